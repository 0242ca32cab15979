package slackfake

import (
	"slices"
	"strings"
	"time"
)

// nowLocked is the fake's wall time (Clock): for message timestamps, the
// 3 s validity of trigger IDs and X-Slack-Request-Timestamp. s.mu must be
// held.
func (s *Server) nowLocked() time.Time { return s.Clock() }

// SetUserTimeZone sets what users.info reports as tz, tz_label and
// tz_offset (seconds east of UTC) for a user. The offset is given, not
// computed, so tests do not depend on the date or the zone database.
// Users default to tz "UTC", offset 0.
func (s *Server) SetUserTimeZone(id, tz, label string, offsetSeconds int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u := s.userLocked(id)
	u.tz, u.tzLabel, u.tzOffset = tz, label, offsetSeconds
	s.notifyLocked()
}

// userLocked returns a user, adding an unknown one (named by its ID in
// lower case).
func (s *Server) userLocked(id string) *userRec {
	u := s.users[id]
	if u == nil {
		u = &userRec{id: id, name: strings.ToLower(id)}
		s.users[id] = u
	}
	return u
}

func addUserTZ(o obj, u *userRec) {
	if u.tz == "" {
		o["tz"], o["tz_label"], o["tz_offset"] = "UTC", "Coordinated Universal Time", 0
		return
	}
	o["tz"], o["tz_label"], o["tz_offset"] = u.tz, u.tzLabel, u.tzOffset
}

// UserGroup is a user group for usergroups.list (see SetUserGroups).
type UserGroup struct {
	ID, Handle, Name, Description string
	Users                         []string
	// Disabled groups are listed only with include_disabled, like Slack's.
	Disabled bool
}

// SetUserGroups replaces the workspace's user groups.
func (s *Server) SetUserGroups(groups ...UserGroup) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.userGroups = make([]UserGroup, len(groups))
	for i, g := range groups {
		g.Users = slices.Clone(g.Users)
		s.userGroups[i] = g
	}
	s.notifyLocked()
}

func userGroupJSON(g UserGroup, withUsers, withCount bool) obj {
	o := obj{
		"id":           g.ID,
		"team_id":      TeamID,
		"is_usergroup": true,
		"is_subteam":   true,
		"name":         g.Name,
		"description":  g.Description,
		"handle":       g.Handle,
		"is_external":  false,
		"date_create":  1700000000,
		"date_update":  1700000000,
		"date_delete":  0,
		"auto_type":    nil,
		"created_by":   "U0ADMIN",
		"updated_by":   "U0ADMIN",
		"deleted_by":   nil,
		"prefs":        obj{"channels": []string{}, "groups": []string{}},
	}
	if g.Disabled {
		o["date_delete"] = 1700000001
		o["deleted_by"] = "U0ADMIN"
	}
	if withUsers {
		o["users"] = orEmpty(g.Users)
	}
	if withCount {
		o["user_count"] = len(g.Users)
	}
	return o
}

func orEmpty(v []string) []string {
	if v == nil {
		return []string{}
	}
	return slices.Clone(v)
}

func (s *Server) usergroupsList(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := []obj{}
	for _, g := range s.userGroups {
		if g.Disabled && !p.bool("include_disabled") {
			continue
		}
		list = append(list, userGroupJSON(g, p.bool("include_users"), p.bool("include_count")))
	}
	return okAnswer(obj{"usergroups": list})
}

func (s *Server) usergroupsUsersList(p params) answer {
	s.mu.Lock()
	defer s.mu.Unlock()
	id := p.Get("usergroup")
	for _, g := range s.userGroups {
		if g.ID != id {
			continue
		}
		if g.Disabled && !p.bool("include_disabled") {
			break
		}
		return okAnswer(obj{"users": orEmpty(g.Users)})
	}
	return errAnswer("no_such_subteam")
}
