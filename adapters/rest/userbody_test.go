package rest

import (
	"bytes"
	"encoding/json"
	"reflect"
	"testing"
	"time"

	"github.com/authd/authd/domain"
)

func bodyTestUser() domain.User {
	first, phone := "Ada", "+44 20 7946 0000"
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return domain.User{
		ID: "u1", Name: "Ada Lovelace", Email: "ada@example.com", PasswordHash: "$2a$10$x",
		IsActive: true, Role: domain.RoleUser,
		Profile:   domain.Profile{FirstName: &first, PhoneNumber: &phone},
		CreatedAt: created, UpdatedAt: created.Add(time.Hour), Version: 3,
	}
}

// encodeDirect is what echo's c.JSON would have written.
func encodeDirect(t *testing.T, u domain.User) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := json.NewEncoder(&buf).Encode(newUserResponse(u)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// The memo must answer exactly what encoding afresh would, for every
// change of any field of the user: a field the comparison forgot would
// serve a stale answer. Each field of domain.User and domain.Profile is
// changed in turn (by reflection, so a field added later is covered too).
func TestUserBodiesNeverServeAStaleAnswer(t *testing.T) {
	ub := newUserBodies()
	base := bodyTestUser()
	if got, _ := ub.body(base); !bytes.Equal(got, encodeDirect(t, base)) {
		t.Fatalf("first answer %s, want %s", got, encodeDirect(t, base))
	}
	changes := 0
	for _, variant := range fieldVariants(t, base) {
		got, err := ub.body(variant.user)
		if err != nil {
			t.Fatal(err)
		}
		if want := encodeDirect(t, variant.user); !bytes.Equal(got, want) {
			t.Errorf("after changing %s: memo answered %s, want %s", variant.field, got, want)
		}
		// And back: the memo now holds the variant.
		if got, _ := ub.body(base); !bytes.Equal(got, encodeDirect(t, base)) {
			t.Errorf("back from %s: memo answered %s", variant.field, got)
		}
		changes++
	}
	if changes < 12 {
		t.Fatalf("only %d field variants: the reflection walk missed fields", changes)
	}
}

// A user equal in every answered field shares the memoised bytes, even when
// its strings sit at other addresses (as a fresh decoding's do).
func TestUserBodiesReuseEqualUsers(t *testing.T) {
	ub := newUserBodies()
	a := bodyTestUser()
	ba, _ := ub.body(a)
	b := bodyTestUser() // new pointers, same values
	b.Version++         // a version alone changes nothing answered
	bb, _ := ub.body(b)
	if &ba[0] != &bb[0] {
		t.Fatal("an equal user was encoded again instead of reusing the memo")
	}
}

func TestUserBodiesBounded(t *testing.T) {
	ub := newUserBodies()
	ub.max = 3
	for i := range 10 {
		u := bodyTestUser()
		u.ID = domain.UserID(string(rune('a' + i)))
		if _, err := ub.body(u); err != nil {
			t.Fatal(err)
		}
		if len(ub.m) > 3 {
			t.Fatalf("memo holds %d entries, bound is 3", len(ub.m))
		}
	}
}

type variant struct {
	field string
	user  domain.User
}

// fieldVariants returns base with one field changed, for every field of
// domain.User (and of its Profile) that reaches the answer or could.
func fieldVariants(t *testing.T, base domain.User) []variant {
	t.Helper()
	var out []variant
	ut := reflect.TypeOf(base)
	for i := range ut.NumField() {
		f := ut.Field(i)
		switch f.Name {
		case "PasswordHash", "Version": // never answered
			continue
		case "Profile":
			pt := f.Type
			for j := range pt.NumField() {
				for _, v := range []*string{nil, ptr("x"), ptr("Ada ")} {
					u := base
					p := reflect.ValueOf(&u.Profile).Elem().Field(j)
					p.Set(reflect.ValueOf(v))
					if !reflect.DeepEqual(u.Profile, base.Profile) {
						out = append(out, variant{"Profile." + pt.Field(j).Name, u})
					}
				}
			}
			continue
		}
		u := base
		v := reflect.ValueOf(&u).Elem().Field(i)
		switch v.Kind() {
		case reflect.String:
			v.SetString(v.String() + "2")
		case reflect.Bool:
			v.SetBool(!v.Bool())
		case reflect.Struct: // time.Time
			v.Set(reflect.ValueOf(v.Interface().(time.Time).Add(time.Second)))
		default:
			t.Fatalf("field %s has kind %s: teach this test to change it", f.Name, v.Kind())
		}
		out = append(out, variant{f.Name, u})
	}
	return out
}

func ptr(s string) *string { return &s }
