package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

func TestCursorRoundTrip(t *testing.T) {
	for _, id := range []domain.UserID{"0193f4c2-8f38-711e-a946-33de6dbe6a73", "u", "ünïcödé"} {
		c := encodeCursor(id)
		if strings.Contains(string(id), "-") && strings.Contains(c, string(id)) {
			t.Errorf("cursor %q shows the id in clear", c)
		}
		if strings.ContainsAny(c, "+/=") {
			t.Errorf("cursor %q is not URL-safe", c)
		}
		got, ok := decodeCursor(c)
		if !ok || got != id {
			t.Errorf("decodeCursor(encodeCursor(%q)) = %q, %v", id, got, ok)
		}
	}
}

func TestParseUserQuery(t *testing.T) {
	valid := encodeCursor("0193f4c2-8f38-711e-a946-33de6dbe6a73")
	for _, tc := range []struct {
		query   string
		want    ports.UserQuery
		wantErr []string
	}{
		{"", ports.UserQuery{Limit: 50}, nil},
		{"limit=1", ports.UserQuery{Limit: 1}, nil},
		{"limit=100", ports.UserQuery{Limit: 100}, nil},
		{"limit=007", ports.UserQuery{Limit: 7}, nil},
		{"cursor=" + valid, ports.UserQuery{Limit: 50, After: "0193f4c2-8f38-711e-a946-33de6dbe6a73"}, nil},
		{"q=%20Ada%20", ports.UserQuery{Limit: 50, Search: "Ada"}, nil},
		{"q=", ports.UserQuery{Limit: 50}, nil},
		{"q=" + strings.Repeat("é", 100), ports.UserQuery{Limit: 50, Search: strings.Repeat("é", 100)}, nil},
		{"other=1", ports.UserQuery{Limit: 50}, nil},
		{"limit=0", ports.UserQuery{}, []string{"limit"}},
		{"limit=1e2", ports.UserQuery{}, []string{"limit"}},
		{"limit=99999999999999999999", ports.UserQuery{}, []string{"limit"}},
		{"cursor=" + valid + "=", ports.UserQuery{}, []string{"cursor"}},
		{"cursor=" + valid[:len(valid)-1], ports.UserQuery{}, []string{"cursor"}},
		{"q=" + strings.Repeat("é", 101), ports.UserQuery{}, []string{"q"}},
		{"q=%00", ports.UserQuery{}, []string{"q"}},
		{"q=a%C2%85b", ports.UserQuery{}, []string{"q"}}, // NEL, a C1 control
		{"q=%FF", ports.UserQuery{}, []string{"q"}},
		{"q=a&q=b&limit=x", ports.UserQuery{}, []string{"limit", "q"}},
	} {
		params, err := url.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		q, err := parseUserQuery(params)
		var fields []string
		if ve, ok := err.(*domain.ValidationError); ok {
			for _, p := range ve.Problems {
				fields = append(fields, p.Field)
			}
		} else if err != nil {
			t.Fatalf("%s: %v", tc.query, err)
		}
		if !slices.Equal(fields, tc.wantErr) {
			t.Errorf("%s: problems with %q, want %q", tc.query, fields, tc.wantErr)
		}
		if err == nil && q != tc.want {
			t.Errorf("%s: %+v, want %+v", tc.query, q, tc.want)
		}
	}
}

// The admin middleware reads the role App.Authenticate loaded, not
// anything else, and the handlers pass the caller on for app to check
// again.
func TestAdminRoutesNeedTheAdminRole(t *testing.T) {
	var principalSeen app.Principal
	stub := &stubApp{
		AuthenticateFn: func(_ context.Context, bearer string) (app.Principal, error) {
			role := domain.RoleUser
			if bearer == "admin" {
				role = domain.RoleAdmin
			}
			return app.Principal{User: domain.User{ID: "caller", Role: role}, Session: domain.Session{ID: "s"}}, nil
		},
		UserFn: func(_ context.Context, p app.Principal, id domain.UserID) (domain.User, error) {
			principalSeen = p
			return domain.User{ID: id, Role: domain.RoleUser, Email: "ada@example.com"}, nil
		},
	}
	s, _ := newServer(t, Options{App: stub})
	if w := call(s, "GET", "/admin/users/u1", "", "Authorization", "Bearer user"); w.Code != http.StatusForbidden {
		t.Fatalf("a user: HTTP %d %s", w.Code, w.Body)
	}
	if principalSeen.User.ID != "" {
		t.Fatal("the use case ran for a user")
	}
	w := call(s, "GET", "/admin/users/u1", "", "Authorization", "Bearer admin")
	if w.Code != http.StatusOK || principalSeen.User.ID != "caller" {
		t.Fatalf("an admin: HTTP %d %s, principal %+v", w.Code, w.Body, principalSeen)
	}
	// What app refuses is refused, whatever the middleware let through.
	stub.UserFn = func(context.Context, app.Principal, domain.UserID) (domain.User, error) {
		return domain.User{}, domain.ErrForbidden
	}
	if w := call(s, "GET", "/admin/users/u1", "", "Authorization", "Bearer admin"); w.Code != http.StatusForbidden {
		t.Fatalf("app refused: HTTP %d", w.Code)
	}
}

func TestListUsersAnswer(t *testing.T) {
	var got ports.UserQuery
	stub := &stubApp{
		AuthenticateFn: func(context.Context, string) (app.Principal, error) {
			return app.Principal{User: domain.User{ID: "a", Role: domain.RoleAdmin}}, nil
		},
		ListUsersFn: func(_ context.Context, _ app.Principal, q ports.UserQuery) (app.UserPage, error) {
			got = q
			next := domain.UserID("")
			if q.After == "" {
				next = "u2"
			}
			return app.UserPage{Users: []domain.User{{ID: "u1"}, {ID: "u2"}}, Next: next}, nil
		},
	}
	s, _ := newServer(t, Options{App: stub})
	w := call(s, "GET", "/admin/users?limit=2&q=ada", "", "Authorization", "Bearer x")
	var page struct {
		Items      []map[string]any `json:"items"`
		NextCursor *string          `json:"next_cursor"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &page); err != nil || w.Code != http.StatusOK {
		t.Fatalf("HTTP %d %s", w.Code, w.Body)
	}
	if got != (ports.UserQuery{Limit: 2, Search: "ada"}) || len(page.Items) != 2 || page.NextCursor == nil {
		t.Fatalf("query %+v, answer %s", got, w.Body)
	}
	w = call(s, "GET", "/admin/users?limit=2&cursor="+*page.NextCursor, "", "Authorization", "Bearer x")
	if got.After != "u2" || !strings.Contains(w.Body.String(), `"next_cursor":null`) {
		t.Fatalf("query %+v, answer %s", got, w.Body)
	}
}
