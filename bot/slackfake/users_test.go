package slackfake_test

import (
	"strings"
	"testing"

	"github.com/slack-go/slack"

	"github.com/inboxbot/inboxbot/bot/slackfake"
)

func TestUserTimeZoneAndGroups(t *testing.T) {
	f := newFake(t)
	ctx := ctxT(t)
	api := newAPI(f)

	u, err := api.GetUserInfoContext(ctx, "U1")
	if err != nil || u.TZ != "UTC" || u.TZOffset != 0 {
		t.Errorf("default tz: %+v %v", u, err)
	}
	f.SetUserTimeZone("U1", "Europe/Berlin", "Central European Summer Time", 7200)
	u, err = api.GetUserInfoContext(ctx, "U1")
	if err != nil || u.TZ != "Europe/Berlin" || u.TZLabel != "Central European Summer Time" || u.TZOffset != 7200 || u.Name != "alice" {
		t.Errorf("tz: %+v %v", u, err)
	}

	if gs, err := api.GetUserGroupsContext(ctx); err != nil || len(gs) != 0 {
		t.Errorf("no groups: %+v %v", gs, err)
	}
	f.SetUserGroups(
		slackfake.UserGroup{ID: "S1", Handle: "inbox-duty", Name: "Inbox duty", Users: []string{"U1", "U2"}},
		slackfake.UserGroup{ID: "S2", Handle: "old", Name: "Old", Users: []string{"U2"}, Disabled: true},
	)
	gs, err := api.GetUserGroupsContext(ctx)
	if err != nil || len(gs) != 1 || gs[0].ID != "S1" || gs[0].Handle != "inbox-duty" || gs[0].Name != "Inbox duty" || len(gs[0].Users) != 0 {
		t.Errorf("groups: %+v %v", gs, err)
	}
	gs, err = api.GetUserGroupsContext(ctx, slack.GetUserGroupsOptionIncludeUsers(true), slack.GetUserGroupsOptionIncludeCount(true),
		slack.GetUserGroupsOptionIncludeDisabled(true))
	if err != nil || len(gs) != 2 || strings.Join(gs[0].Users, ",") != "U1,U2" || gs[0].UserCount != 2 || gs[1].DateDelete == 0 {
		t.Errorf("groups with users: %+v %v", gs, err)
	}
	if us, err := api.GetUserGroupMembersContext(ctx, "S1"); err != nil || strings.Join(us, ",") != "U1,U2" {
		t.Errorf("members: %v %v", us, err)
	}
	if _, err := api.GetUserGroupMembersContext(ctx, "S2"); slackErr(err) != "no_such_subteam" {
		t.Errorf("disabled group members: %v", err)
	}
}
