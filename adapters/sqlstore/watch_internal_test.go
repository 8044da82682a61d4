package sqlstore

import "testing"

func TestParseChange(t *testing.T) {
	for _, tc := range []struct {
		payload, schema string
		want            Change
		ok              bool
	}{
		{"public user u1", "public", Change{ChangedUser, "u1"}, true},
		{"public session s1", "public", Change{ChangedSession, "s1"}, true},
		{"my schema user u1", "my schema", Change{ChangedUser, "u1"}, true},
		{"other user u1", "public", Change{}, false},
		{"my schema user u1", "schema", Change{}, false},
		{"public role u1", "public", Change{}, false},
		{"public user ", "public", Change{}, false},
		{"public user", "public", Change{}, false},
		{"", "public", Change{}, false},
	} {
		got, ok := parseChange(tc.payload, tc.schema)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseChange(%q, %q) = %+v, %v; want %+v, %v", tc.payload, tc.schema, got, ok, tc.want, tc.ok)
		}
	}
}
