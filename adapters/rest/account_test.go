package rest

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/authd/authd/app"
	"github.com/authd/authd/domain"
)

func callerStub() *stubApp {
	return &stubApp{AuthenticateFn: func(context.Context, string) (app.Principal, error) {
		return app.Principal{User: domain.User{ID: "u1", Role: domain.RoleUser}, Session: domain.Session{ID: "s1"}}, nil
	}}
}

// A PATCH tells apart a member left out, one set to null and one set to a
// value; the use case gets exactly that.
func TestUpdateMePassesAbsentNullAndValue(t *testing.T) {
	stub := callerStub()
	var got app.ProfileUpdate
	stub.UpdateProfileFn = func(_ context.Context, _ app.Principal, in app.ProfileUpdate) (domain.User, error) {
		got = in
		return domain.User{ID: "u1"}, nil
	}
	s, _ := newServer(t, Options{App: stub})
	w := call(s, "PATCH", "/users/me", `{"name":"Ada","profile":{"phone_number":null,"address":"London"}}`, "Authorization", "Bearer x")
	if w.Code != http.StatusOK {
		t.Fatalf("HTTP %d %s", w.Code, w.Body)
	}
	switch {
	case got.Name != app.Some("Ada"):
		t.Errorf("Name %+v", got.Name)
	case got.FirstName.Set || got.LastName.Set:
		t.Errorf("absent members set: %+v %+v", got.FirstName, got.LastName)
	case !got.PhoneNumber.Set || got.PhoneNumber.Value != nil:
		t.Errorf("PhoneNumber %+v, want set to nil", got.PhoneNumber)
	case !got.Address.Set || got.Address.Value == nil || *got.Address.Value != "London":
		t.Errorf("Address %+v", got.Address)
	}
}

// The use case is not called when decoding fails; the 422 then carries the
// domain's objections to the members that did decode too.
func TestUpdateMeRefusedBeforeTheUseCase(t *testing.T) {
	stub := callerStub()
	s, _ := newServer(t, Options{App: stub}) // UpdateProfileFn unset: a call would be a 500
	w := call(s, "PATCH", "/users/me", `{"name":"A","profile":{"first_name":7,"address":null}}`, "Authorization", "Bearer x")
	if w.Code != http.StatusUnprocessableEntity {
		t.Fatalf("HTTP %d %s", w.Code, w.Body)
	}
	p := decodeProblem(t, w)
	want := []fieldProblem{{"name", "must be at least 2 characters"}, {"profile.first_name", "must be a string or null"}}
	if len(p.Errors) != len(want) || p.Errors[0] != want[0] || p.Errors[1] != want[1] {
		t.Errorf("errors %v, want %v", p.Errors, want)
	}
}

func TestSessionResponse(t *testing.T) {
	at := time.Date(2026, 12, 3, 17, 0, 0, 999, time.FixedZone("UTC+1", 3600))
	s := domain.Session{ID: "s2", CreatedAt: at, LastUsedAt: at, ExpiresAt: at.Add(time.Hour)}
	b, err := json.Marshal(newSessionResponse(s, "s1"))
	if err != nil {
		t.Fatal(err)
	}
	want := `{"id":"s2","created_at":"2026-12-03T16:00:00Z","last_used_at":"2026-12-03T16:00:00Z",` +
		`"expires_at":"2026-12-03T17:00:00Z","user_agent":null,"ip":null,"current":false}`
	if string(b) != want {
		t.Errorf("got  %s\nwant %s", b, want)
	}
	s.UserAgent, s.IP = "curl/8.0", "192.0.2.1"
	r := newSessionResponse(s, "s2")
	if !r.Current || *r.UserAgent != "curl/8.0" || *r.IP != "192.0.2.1" {
		t.Errorf("%+v", r)
	}
}
