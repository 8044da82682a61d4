package api

import (
	"context"
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/authd/authd/domain"
)

// admin registers an account, makes it an administrator through the store
// (there is no HTTP way to make one, by design) and logs it in.
func (ts *testServer) admin(t *testing.T, email string) (user, tokens) {
	t.Helper()
	u := ts.register(t, "Grace Admin", email, "correct horse battery")
	setRole(t, ts, u.ID, domain.RoleAdmin)
	u.Role = "admin"
	return u, ts.login(t, email, "correct horse battery")
}

func setRole(t *testing.T, ts *testServer, id string, role domain.Role) {
	t.Helper()
	_, err := ts.Users.Update(context.Background(), domain.UserID(id), func(u *domain.User) error {
		u.Role = role
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// userPage is the answer of GET /admin/users.
type userPage struct {
	Items      []user  `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func (ts *testServer) listUsers(t *testing.T, access, query string) userPage {
	t.Helper()
	var p userPage
	ts.authed(t, access, "GET", "/admin/users"+query, nil).want(t, http.StatusOK).decode(t, &p)
	return p
}

// Every admin route is 401 without a token and 403 for a user, whatever
// else the request holds, and changes nothing.
func TestAdminRoutesRefuseOthers(t *testing.T) {
	ts := newTestServer(t)
	_, adminTk := ts.admin(t, "grace@example.com")
	victim, userTk := ts.account(t, "ada@example.com")
	routes := []struct {
		method, path string
		body         any
	}{
		{"GET", "/admin/users", nil},
		{"GET", "/admin/users?limit=1&q=ada", nil},
		{"GET", "/admin/users?limit=oops", nil},
		{"GET", "/admin/users/" + victim.ID, nil},
		{"PATCH", "/admin/users/" + victim.ID, `{"role":"admin"}`},
		{"PATCH", "/admin/users/" + victim.ID, `{"is_active":false}`},
		{"PATCH", "/admin/users/" + victim.ID, `not json`},
		{"DELETE", "/admin/users/" + victim.ID, nil},
		{"GET", "/admin/users/no-such-user", nil},
		{"GET", "/admin/nowhere", nil},
		{"GET", "/admin", nil},
		{"POST", "/admin/users", `{"name":"Eve"}`}, // no such method either
	}
	for _, rt := range routes {
		r := ts.do(t, rt.method, rt.path, rt.body).want(t, http.StatusUnauthorized)
		if r.problem(t).Type != "urn:authd:problem:unauthenticated" {
			t.Errorf("%s %s without a token: %s", rt.method, rt.path, r.Body)
		}
		r = ts.authed(t, userTk.AccessToken, rt.method, rt.path, rt.body).want(t, http.StatusForbidden)
		if r.problem(t).Type != "urn:authd:problem:forbidden" {
			t.Errorf("%s %s as a user: %s", rt.method, rt.path, r.Body)
		}
		ts.authed(t, "not-a-token", rt.method, rt.path, rt.body).want(t, http.StatusUnauthorized)
	}
	// Nothing happened to the account the user tried to change.
	got := ts.getMe(t, userTk.AccessToken)
	if got.Role != "user" || !got.IsActive {
		t.Fatalf("after the refused requests: %+v", got)
	}
	// The same paths do answer an administrator.
	ts.authed(t, adminTk.AccessToken, "GET", "/admin/users/"+victim.ID, nil).want(t, http.StatusOK)
	ts.authed(t, adminTk.AccessToken, "GET", "/admin/nowhere", nil).want(t, http.StatusNotFound)
	// (404 rather than 405: under /admin echo's catch-all for the group
	// answers a method no route has.)
	ts.authed(t, adminTk.AccessToken, "POST", "/admin/users", `{"name":"Eve"}`).want(t, http.StatusNotFound)
}

func TestAdminListUsers(t *testing.T) {
	ts := newTestServer(t)
	admin, tk := ts.admin(t, "grace@example.com")
	all := []user{admin}
	for i, name := range []string{"Ada Lovelace", "Alan Turing", "Barbara Liskov", "Edsger Dijkstra", "Donald Knuth", "Frances Allen"} {
		all = append(all, ts.register(t, name, fmt.Sprintf("person%d@example.com", i), "correct horse battery"))
	}

	// Default page size holds them all: one page, no cursor.
	p := ts.listUsers(t, tk.AccessToken, "")
	assertUsers(t, "the default page", p.Items, all)
	if p.NextCursor != nil {
		t.Errorf("next_cursor %q on the only page", *p.NextCursor)
	}

	// Pages of three, following next_cursor, in creation order.
	var seen []user
	query := "?limit=3"
	for pages := 0; ; pages++ {
		if pages > len(all) {
			t.Fatal("next_cursor never ran out")
		}
		p := ts.listUsers(t, tk.AccessToken, query)
		seen = append(seen, p.Items...)
		if p.NextCursor == nil {
			if len(p.Items) == 0 {
				t.Error("an empty last page: the previous one should have had no next_cursor")
			}
			break
		}
		if len(p.Items) != 3 {
			t.Errorf("a page with a next_cursor holds %d users, want 3", len(p.Items))
		}
		query = "?limit=3&cursor=" + url.QueryEscape(*p.NextCursor)
	}
	assertUsers(t, "all pages", seen, all)

	// A page that ends exactly at the last user says so.
	p = ts.listUsers(t, tk.AccessToken, "?limit=7")
	if len(p.Items) != 7 || p.NextCursor != nil {
		t.Errorf("limit=7 over 7 users: %d items, next_cursor %v", len(p.Items), p.NextCursor)
	}
	p = ts.listUsers(t, tk.AccessToken, "?limit=6")
	if len(p.Items) != 6 || p.NextCursor == nil {
		t.Errorf("limit=6 over 7 users: %d items, next_cursor %v", len(p.Items), p.NextCursor)
	}
}

func TestAdminListUsersSearch(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.admin(t, "grace@example.com")
	ada := ts.register(t, "Ada Lovelace", "countess@analytical.example.com", "correct horse battery")
	alan := ts.register(t, "Alan Turing", "alan@bletchley.example.com", "correct horse battery")
	fan := ts.register(t, "Edsger Dijkstra", "lovelace.fan@example.com", "correct horse battery")
	for _, tc := range []struct {
		q    string
		want []user
	}{
		{"lovelace", []user{ada, fan}},       // a name and an email
		{"LOVELACE", []user{ada, fan}},       // ignoring case
		{"  bletchley  ", []user{alan}},      // surrounding spaces dropped
		{"an tu", []user{alan}},              // inside a name
		{"100%", nil},                        // a wildcard is a character
		{"", []user{}},                       // empty: no filter (checked by count below)
		{strings.Repeat("x", 100), nil},      // the longest allowed
		{"countess@analytical", []user{ada}}, // an email's
	} {
		p := ts.listUsers(t, tk.AccessToken, "?q="+url.QueryEscape(tc.q))
		if tc.q == "" {
			if len(p.Items) != 4 {
				t.Errorf("q empty: %d users, want all 4", len(p.Items))
			}
			continue
		}
		assertUsers(t, fmt.Sprintf("q=%q", tc.q), p.Items, tc.want)
	}
	// Search pages like the full list.
	p := ts.listUsers(t, tk.AccessToken, "?q=lovelace&limit=1")
	assertUsers(t, "the first page of a search", p.Items, []user{ada})
	if p.NextCursor == nil {
		t.Fatal("no next_cursor after the first of two matches")
	}
	p = ts.listUsers(t, tk.AccessToken, "?q=lovelace&limit=1&cursor="+url.QueryEscape(*p.NextCursor))
	assertUsers(t, "the second page of a search", p.Items, []user{fan})
	if p.NextCursor != nil {
		t.Errorf("next_cursor %q after the last match", *p.NextCursor)
	}
}

func TestAdminListUsersValidation(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.admin(t, "grace@example.com")
	cursor := func(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"?limit=0", []string{"limit: must be between 1 and 100"}},
		{"?limit=101", []string{"limit: must be between 1 and 100"}},
		{"?limit=-1", []string{"limit: must be between 1 and 100"}},
		{"?limit=ten", []string{"limit: must be an integer"}},
		{"?limit=2.5", []string{"limit: must be an integer"}},
		{"?limit=", []string{"limit: must be an integer"}},
		{"?limit=1&limit=2", []string{"limit: must be given once"}},
		{"?cursor=not*base64", []string{"cursor: must be a next_cursor returned by this endpoint"}},
		{"?cursor=", []string{"cursor: must be a next_cursor returned by this endpoint"}},
		{"?cursor=" + cursor([]byte{2, 'x'}), []string{"cursor: must be a next_cursor returned by this endpoint"}},
		{"?cursor=" + cursor([]byte{1}), []string{"cursor: must be a next_cursor returned by this endpoint"}},
		{"?cursor=" + cursor([]byte{1, 'a', 0, 'b'}), []string{"cursor: must be a next_cursor returned by this endpoint"}},
		{"?cursor=" + cursor(append([]byte{1}, strings.Repeat("a", 65)...)), []string{"cursor: must be a next_cursor returned by this endpoint"}},
		{"?q=" + strings.Repeat("x", 101), []string{"q: must be at most 100 characters"}},
		{"?q=" + url.QueryEscape("a\tb"), []string{"q: must be text without control characters"}},
		{"?limit=0&cursor=%21&q=" + strings.Repeat("x", 101), []string{
			"limit: must be between 1 and 100",
			"cursor: must be a next_cursor returned by this endpoint",
			"q: must be at most 100 characters",
		}},
	} {
		p := ts.authed(t, tk.AccessToken, "GET", "/admin/users"+tc.query, nil).want(t, http.StatusUnprocessableEntity).problem(t)
		if got := p.fields(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: errors\n\t%q\nwant\n\t%q", tc.query, got, tc.want)
		}
	}
	// Parameters it does not know are ignored.
	ts.listUsers(t, tk.AccessToken, "?offset=100&sort=name")
}

// Users created while an administrator pages through the list land after
// the page being read: every user that existed at the start is seen exactly
// once, and nobody twice.
func TestAdminListUsersStableUnderInserts(t *testing.T) {
	ts := newTestServer(t)
	admin, tk := ts.admin(t, "grace@example.com")
	existing := []user{admin}
	for i := range 10 {
		existing = append(existing, ts.register(t, "Early User", fmt.Sprintf("early%d@example.com", i), "correct horse battery"))
	}
	seen := map[string]int{}
	query := "?limit=3"
	for pages := 0; ; pages++ {
		if pages > 50 {
			t.Fatal("paging does not end")
		}
		p := ts.listUsers(t, tk.AccessToken, query)
		for _, u := range p.Items {
			seen[u.ID]++
		}
		// Two sign-ups between every two page fetches.
		for j := range 2 {
			ts.register(t, "Late User", fmt.Sprintf("late%d-%d@example.com", pages, j), "correct horse battery")
		}
		if p.NextCursor == nil {
			break
		}
		query = "?limit=3&cursor=" + url.QueryEscape(*p.NextCursor)
		// Stop once past the users that existed at the start; the late
		// ones would otherwise keep paging going as long as we add them.
		if last := p.Items[len(p.Items)-1]; last.ID >= existing[len(existing)-1].ID {
			break
		}
	}
	for _, u := range existing {
		if seen[u.ID] != 1 {
			t.Errorf("user %s (%s) seen %d times, want once", u.ID, u.Email, seen[u.ID])
		}
	}
	for id, n := range seen {
		if n > 1 {
			t.Errorf("user %s seen %d times", id, n)
		}
	}
}

func TestAdminGetUser(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.admin(t, "grace@example.com")
	ada, adaTk := ts.account(t, "ada@example.com")
	ts.authed(t, adaTk.AccessToken, "PATCH", "/users/me", `{"profile":{"phone_number":"+44 20"}}`).want(t, http.StatusOK)

	var got user
	ts.authed(t, tk.AccessToken, "GET", "/admin/users/"+ada.ID, nil).want(t, http.StatusOK).decode(t, &got)
	if got.ID != ada.ID || got.Email != ada.Email || got.Profile.PhoneNumber == nil || *got.Profile.PhoneNumber != "+44 20" {
		t.Errorf("got %+v", got)
	}
	ts.authed(t, tk.AccessToken, "GET", "/admin/users/0193f4c2-0000-7000-8000-000000000000", nil).want(t, http.StatusNotFound)
}

// Deactivation takes effect at once: the user's tokens, access and refresh,
// stop working on the next request, and login is refused until an
// administrator reactivates the account.
func TestAdminDeactivate(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.admin(t, "grace@example.com")
	ada, one := ts.account(t, "ada@example.com")
	two := ts.login(t, "ada@example.com", "correct horse battery")

	var got user
	ts.authed(t, tk.AccessToken, "PATCH", "/admin/users/"+ada.ID, `{"is_active":false}`).want(t, http.StatusOK).decode(t, &got)
	if got.IsActive || got.Role != "user" {
		t.Fatalf("after deactivation: %+v", got)
	}
	for _, s := range []tokens{one, two} {
		ts.me(t, s.AccessToken).want(t, http.StatusUnauthorized)
		ts.refresh(t, s.RefreshToken).want(t, http.StatusUnauthorized)
	}
	r := ts.do(t, "POST", "/auth/login", map[string]string{"email": "ada@example.com", "password": "correct horse battery"}).
		want(t, http.StatusForbidden)
	if r.problem(t).Type != "urn:authd:problem:account-inactive" {
		t.Errorf("login of a deactivated account: %s", r.Body)
	}

	ts.authed(t, tk.AccessToken, "PATCH", "/admin/users/"+ada.ID, `{"is_active":true}`).want(t, http.StatusOK).decode(t, &got)
	if !got.IsActive {
		t.Fatalf("after reactivation: %+v", got)
	}
	again := ts.login(t, "ada@example.com", "correct horse battery")
	ts.me(t, again.AccessToken).want(t, http.StatusOK)
	// Reactivation does not bring the old sessions back.
	ts.me(t, one.AccessToken).want(t, http.StatusUnauthorized)
}

// A role change counts from the user's next request, with the token they
// already hold.
func TestAdminRoleChange(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.admin(t, "grace@example.com")
	ada, adaTk := ts.account(t, "ada@example.com")
	ts.authed(t, adaTk.AccessToken, "GET", "/admin/users", nil).want(t, http.StatusForbidden)

	var got user
	ts.authed(t, tk.AccessToken, "PATCH", "/admin/users/"+ada.ID, `{"role":"admin"}`).want(t, http.StatusOK).decode(t, &got)
	if got.Role != "admin" || !got.IsActive {
		t.Fatalf("after promotion: %+v", got)
	}
	ts.authed(t, adaTk.AccessToken, "GET", "/admin/users", nil).want(t, http.StatusOK)
	if me := ts.getMe(t, adaTk.AccessToken); me.Role != "admin" {
		t.Errorf("GET /users/me says role %q", me.Role)
	}

	ts.authed(t, tk.AccessToken, "PATCH", "/admin/users/"+ada.ID, `{"role":"user"}`).want(t, http.StatusOK)
	ts.authed(t, adaTk.AccessToken, "GET", "/admin/users", nil).want(t, http.StatusForbidden)
}

func TestAdminDeleteUser(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.admin(t, "grace@example.com")
	ada, adaTk := ts.account(t, "ada@example.com")
	other := ts.login(t, "ada@example.com", "correct horse battery")

	r := ts.authed(t, tk.AccessToken, "DELETE", "/admin/users/"+ada.ID, nil).want(t, http.StatusNoContent)
	if len(r.Body) != 0 {
		t.Errorf("204 with a body %q", r.Body)
	}
	for _, s := range []tokens{adaTk, other} {
		ts.me(t, s.AccessToken).want(t, http.StatusUnauthorized)
		ts.refresh(t, s.RefreshToken).want(t, http.StatusUnauthorized)
	}
	ts.do(t, "POST", "/auth/login", map[string]string{"email": "ada@example.com", "password": "correct horse battery"}).
		want(t, http.StatusUnauthorized)
	ts.authed(t, tk.AccessToken, "GET", "/admin/users/"+ada.ID, nil).want(t, http.StatusNotFound)
	ts.authed(t, tk.AccessToken, "DELETE", "/admin/users/"+ada.ID, nil).want(t, http.StatusNotFound)
	ts.authed(t, tk.AccessToken, "PATCH", "/admin/users/"+ada.ID, `{"is_active":true}`).want(t, http.StatusNotFound)
	if p := ts.listUsers(t, tk.AccessToken, "?q=ada"); len(p.Items) != 0 {
		t.Errorf("the deleted user is still listed: %+v", p.Items)
	}
	// The email is free again.
	ts.register(t, "Ada Again", "ada@example.com", "correct horse battery")
}

// An administrator cannot lock themselves out: no deactivating, demoting or
// deleting one's own account.
func TestAdminCannotLockThemselvesOut(t *testing.T) {
	ts := newTestServer(t)
	admin, tk := ts.admin(t, "grace@example.com")
	for _, tc := range []struct {
		method, body string
		want         []string
	}{
		{"PATCH", `{"is_active":false}`, []string{"is_active: administrators cannot deactivate themselves"}},
		{"PATCH", `{"role":"user"}`, []string{"role: administrators cannot demote themselves"}},
		{"PATCH", `{"is_active":false,"role":"user"}`, []string{
			"is_active: administrators cannot deactivate themselves",
			"role: administrators cannot demote themselves",
		}},
		{"DELETE", "", []string{"id: administrators cannot delete themselves"}},
	} {
		var body any
		if tc.body != "" {
			body = tc.body
		}
		p := ts.authed(t, tk.AccessToken, tc.method, "/admin/users/"+admin.ID, body).want(t, http.StatusUnprocessableEntity).problem(t)
		if got := p.fields(); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s: errors\n\t%q\nwant\n\t%q", tc.method, tc.body, got, tc.want)
		}
	}
	me := ts.getMe(t, tk.AccessToken)
	if me.Role != "admin" || !me.IsActive {
		t.Fatalf("after the refused requests: %+v", me)
	}
	// Harmless changes to oneself are fine.
	ts.authed(t, tk.AccessToken, "PATCH", "/admin/users/"+admin.ID, `{"is_active":true,"role":"admin"}`).want(t, http.StatusOK)
}

func TestAdminUpdateUserValidation(t *testing.T) {
	ts := newTestServer(t)
	_, tk := ts.admin(t, "grace@example.com")
	ada, adaTk := ts.account(t, "ada@example.com")
	for _, tc := range []struct {
		body string
		want []string
	}{
		{`{"role":"root"}`, []string{`role: must be "user" or "admin"`}},
		{`{"role":null}`, []string{"role: must be a string"}},
		{`{"role":1}`, []string{"role: must be a string"}},
		{`{"is_active":null}`, []string{"is_active: must be true or false"}},
		{`{"is_active":"false"}`, []string{"is_active: must be true or false"}},
		{`{"is_active":0,"role":"root"}`, []string{"is_active: must be true or false", `role: must be "user" or "admin"`}},
		{`{"is_active":false,"role":"root"}`, []string{`role: must be "user" or "admin"`}},
	} {
		p := ts.authed(t, tk.AccessToken, "PATCH", "/admin/users/"+ada.ID, tc.body).want(t, http.StatusUnprocessableEntity).problem(t)
		if got := p.fields(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: errors\n\t%q\nwant\n\t%q", tc.body, got, tc.want)
		}
	}
	// None of them changed anything: the last one's valid is_active was
	// not applied either.
	ts.me(t, adaTk.AccessToken).want(t, http.StatusOK)
	if me := ts.getMe(t, adaTk.AccessToken); me.Role != "user" || !me.IsActive {
		t.Fatalf("after the refused updates: %+v", me)
	}
	ts.authed(t, tk.AccessToken, "PATCH", "/admin/users/"+ada.ID, `{`).want(t, http.StatusBadRequest)
	ts.authed(t, tk.AccessToken, "PATCH", "/admin/users/0193f4c2-0000-7000-8000-000000000000", `{"is_active":false}`).
		want(t, http.StatusNotFound)
	// An empty update changes nothing and answers the user.
	var got user
	ts.authed(t, tk.AccessToken, "PATCH", "/admin/users/"+ada.ID, `{}`).want(t, http.StatusOK).decode(t, &got)
	if got.ID != ada.ID || got.Role != "user" || !got.IsActive {
		t.Errorf("after an empty update: %+v", got)
	}
}

// assertUsers compares listed users with the expected ones, in order, by
// id and email.
func assertUsers(t *testing.T, what string, got, want []user) {
	t.Helper()
	key := func(us []user) []string {
		out := make([]string, len(us))
		for i, u := range us {
			out[i] = u.ID + " " + u.Email
		}
		return out
	}
	if g, w := key(got), key(want); !slices.Equal(g, w) {
		t.Fatalf("%s:\n\t%q\nwant\n\t%q", what, g, w)
	}
}
