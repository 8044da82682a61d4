package memory_test

import (
	"testing"

	"github.com/authd/authd/adapters/memory"
	"github.com/authd/authd/ports"
	"github.com/authd/authd/test/contract"
)

func TestUserStore(t *testing.T) {
	contract.UserStore(t, func(*testing.T) ports.UserStore { return memory.NewUserStore() })
}
