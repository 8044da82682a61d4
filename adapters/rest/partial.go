package rest

import (
	"bytes"
	"encoding/json"
)

// Accessors for partial updates (PATCH), where a member left out means
// "leave it alone". null is a value only where the field may be cleared
// (nullableString, in decode.go); for a field that may not be cleared, null
// is a mistake the client should hear about, not a silent no-op.

// optionalString returns the member name and true when it is a string;
// false when it is absent, or after recording a problem when it is null or
// not a string.
func (o *object) optionalString(name string) (string, bool) {
	o.asked(name)
	raw, ok := o.members[name]
	if !ok {
		return "", false
	}
	var s string
	if bytes.Equal(raw, jsonNull) || json.Unmarshal(raw, &s) != nil {
		o.fail(name, "must be a string")
		return "", false
	}
	return s, true
}

// optionalBool is optionalString for true and false.
func (o *object) optionalBool(name string) (value, present bool) {
	o.asked(name)
	raw, ok := o.members[name]
	if !ok {
		return false, false
	}
	var b bool
	if bytes.Equal(raw, jsonNull) || json.Unmarshal(raw, &b) != nil {
		o.fail(name, "must be true or false")
		return false, false
	}
	return b, true
}

// presentObject returns the nested object under name, nil when it is
// absent, and nil after recording a problem when it is null or not an
// object. Problems inside it are named "name.field".
func (o *object) presentObject(name string) *object {
	raw, ok := o.members[name]
	if ok && bytes.Equal(raw, jsonNull) {
		o.asked(name)
		o.fail(name, "must be an object")
		return nil
	}
	return o.optionalObject(name)
}
