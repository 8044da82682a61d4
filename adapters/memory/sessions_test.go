package memory_test

import (
	"testing"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/ports"
	"github.com/authd/authd/test/contract"
)

func TestSessionStore(t *testing.T) {
	contract.SessionStore(t, func(*testing.T) (ports.SessionStore, ports.UserStore) {
		return memory.NewSessionStore(), memory.NewUserStore()
	})
}
