package memory_test

import (
	"testing"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/ports"
	"github.com/authd/authd/test/contract"
)

func TestUserDirectory(t *testing.T) {
	contract.UserDirectory(t, func(*testing.T) (ports.UserDirectory, ports.UserStore) {
		s := memory.NewUserStore()
		return s, s
	})
}
