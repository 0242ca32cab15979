package bot

import "github.com/inboxbot/inboxbot/store"

// verb is one workflow action and every way to ask for it: the /inbox
// command word, the card button, the reaction on the card. The table is
// the one place that maps them; handlers look verbs up in it.
type verb struct {
	command string // /inbox <command> N
	action  string // store.Act*
	button  string // action_id of its card button ("" none)
	// reaction added (or removed, for unreact) on the root card.
	react, unreact string
	target         bool // takes a person (assign)
	until          bool // takes an optional "until TIME" (hold), see timers.go
}

var verbs = []verb{
	{command: "claim", action: store.ActClaim, button: "claim", react: "eyes"},
	{command: "unclaim", action: store.ActUnclaim, button: "unclaim"},
	{command: "assign", action: store.ActAssign, button: "assign", target: true},
	{command: "unassign", action: store.ActUnassign},
	{command: "close", action: store.ActClose, button: "close", react: "white_check_mark"},
	{command: "reopen", action: store.ActReopen, button: "reopen", unreact: "white_check_mark"},
	{command: "hold", action: store.ActHold, button: "hold", until: true},
}

func verbBy(match func(v *verb) bool) *verb {
	for i := range verbs {
		if match(&verbs[i]) {
			return &verbs[i]
		}
	}
	return nil
}

func verbByCommand(word string) *verb {
	return verbBy(func(v *verb) bool { return v.command == word })
}

func verbByButton(actionID string) *verb {
	return verbBy(func(v *verb) bool { return v.button != "" && v.button == actionID })
}

func verbByReaction(name string, added bool) *verb {
	return verbBy(func(v *verb) bool {
		if added {
			return v.react != "" && v.react == name
		}
		return v.unreact != "" && v.unreact == name
	})
}

func verbByAction(action string) *verb {
	return verbBy(func(v *verb) bool { return v.action == action })
}
