package contract

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"

	"github.com/authd/authd/domain"
	"github.com/authd/authd/ports"
)

// UserDirectory tests the ports.UserDirectory contract. newStores returns a
// directory and the user store it lists, both over one fresh, empty store
// private to the subtest.
//
// Case-insensitive search is tested on ASCII letters only: SQLite folds
// only those, and PostgreSQL folds others as its database's locale says.
func UserDirectory(t *testing.T, newStores func(t *testing.T) (ports.UserDirectory, ports.UserStore)) {
	run := func(name string, f func(t *testing.T, d ports.UserDirectory, s ports.UserStore)) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d, s := newStores(t)
			f(t, d, s)
		})
	}

	run("Empty", func(t *testing.T, d ports.UserDirectory, _ ports.UserStore) {
		if got := mustList(t, d, ports.UserQuery{Limit: 10}); len(got) != 0 {
			t.Fatalf("List of an empty store returned %d users", len(got))
		}
	})

	run("EveryFieldInIDOrder", func(t *testing.T, d ports.UserDirectory, s ports.UserStore) {
		users := orderedUsers(t, 5)
		// Created out of id order, so a store that returns insertion order
		// shows.
		for _, i := range []int{3, 0, 4, 1, 2} {
			mustCreate(t, s, users[i])
		}
		users[2].IsActive, users[2].Role = false, domain.RoleAdmin
		users[2].Profile = domain.Profile{FirstName: ptr("Ada"), LastName: ptr("Lovelace"), PhoneNumber: ptr("+44 20"), Address: ptr("")}
		if _, err := s.Update(t.Context(), users[2].ID, func(u *domain.User) error {
			u.IsActive, u.Role, u.Profile = users[2].IsActive, users[2].Role, users[2].Profile
			return nil
		}); err != nil {
			t.Fatalf("Update: %v", err)
		}
		got := mustList(t, d, ports.UserQuery{Limit: 10})
		assertListIDs(t, "List", got, users)
		for i, u := range got {
			want := users[i]
			want.Version = 1
			if i == 2 {
				want.Version = 2
			}
			assertUser(t, "listed user "+string(u.ID), u, want)
		}
	})

	run("AfterAndLimit", func(t *testing.T, d ports.UserDirectory, s ports.UserStore) {
		users := orderedUsers(t, 6)
		for _, u := range users {
			mustCreate(t, s, u)
		}
		assertListIDs(t, "Limit 2", mustList(t, d, ports.UserQuery{Limit: 2}), users[:2])
		assertListIDs(t, "After the second, Limit 3", mustList(t, d, ports.UserQuery{After: users[1].ID, Limit: 3}), users[2:5])
		assertListIDs(t, "After the fifth, Limit 3", mustList(t, d, ports.UserQuery{After: users[4].ID, Limit: 3}), users[5:])
		assertListIDs(t, "After the last", mustList(t, d, ports.UserQuery{After: users[5].ID, Limit: 3}), nil)
		assertListIDs(t, "Limit above the count", mustList(t, d, ports.UserQuery{Limit: 100}), users)

		// A cursor names a place in the order, not a row: the user it names
		// may have been deleted since, and paging goes on from there.
		if err := s.Delete(t.Context(), users[2].ID); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		assertListIDs(t, "After a deleted user", mustList(t, d, ports.UserQuery{After: users[2].ID, Limit: 2}), users[3:5])
	})

	run("PagesSeeEveryUserOnce", func(t *testing.T, d ports.UserDirectory, s ports.UserStore) {
		users := orderedUsers(t, 11)
		for _, u := range users {
			mustCreate(t, s, u)
		}
		var seen []domain.User
		after := domain.UserID("")
		for pages := 0; ; pages++ {
			if pages > len(users) {
				t.Fatalf("still paging after %d pages", pages)
			}
			page := mustList(t, d, ports.UserQuery{After: after, Limit: 3})
			if len(page) == 0 {
				break
			}
			seen = append(seen, page...)
			after = page[len(page)-1].ID
		}
		assertListIDs(t, "all pages together", seen, users)
	})

	run("SearchEmailOrNameIgnoringCase", func(t *testing.T, d ports.UserDirectory, s ports.UserStore) {
		users := orderedUsers(t, 5)
		users[0].Name, users[0].Email = "Ada Lovelace", "countess@analytical.example"
		users[1].Name, users[1].Email = "Grace Hopper", "grace@navy.example"
		users[2].Name, users[2].Email = "Alan Turing", "alan@bletchley.example"
		users[3].Name, users[3].Email = "Edsger Dijkstra", "ewd@lovelace-fans.example"
		users[4].Name, users[4].Email = "Barbara Liskov", "liskov@mit.example"
		for _, u := range users {
			mustCreate(t, s, u)
		}
		for _, tc := range []struct {
			search string
			want   []domain.User
		}{
			{"lovelace", []domain.User{users[0], users[3]}}, // a name, and an email
			{"LoVeLaCe", []domain.User{users[0], users[3]}},
			{"grace@NAVY", users[1:2]},
			{"an tu", users[2:3]}, // inside a name, across the space
			{".example", users},
			{"hopper@", nil}, // no match across the name and the email
			{"nobody", nil},
		} {
			got := mustList(t, d, ports.UserQuery{Search: tc.search, Limit: 10})
			assertListIDs(t, fmt.Sprintf("Search %q", tc.search), got, tc.want)
		}
		// Search combines with paging.
		got := mustList(t, d, ports.UserQuery{Search: "a", After: users[0].ID, Limit: 2})
		assertListIDs(t, `Search "a" after the first, Limit 2`, got, users[1:3])
	})

	run("SearchIsLiteral", func(t *testing.T, d ports.UserDirectory, s ports.UserStore) {
		// LIKE-based stores must escape their wildcards: each of these
		// characters matches only itself. The last user is the decoy an
		// unescaped pattern would find ("100x" for "100%", "rxs" for "r_s",
		// "ks" for PostgreSQL's reading of `k\s`).
		users := orderedUsers(t, 4)
		users[0].Name = "Percent 100% Sure"
		users[1].Name = "Under_score"
		users[2].Name = `Back\slash`
		users[3].Name = "Plain Underxscore 100x Sure Backslash"
		for _, u := range users {
			mustCreate(t, s, u)
		}
		for _, tc := range []struct {
			search string
			want   []domain.User
		}{
			{"100%", users[0:1]},
			{"%", users[0:1]},
			{"r_s", users[1:2]},
			{"_", users[1:2]},
			{`k\s`, users[2:3]},
			{`\`, users[2:3]},
			{"[a-z]", nil},
			{"*", nil},
		} {
			got := mustList(t, d, ports.UserQuery{Search: tc.search, Limit: 10})
			assertListIDs(t, fmt.Sprintf("Search %q", tc.search), got, tc.want)
		}
	})

	run("ConcurrentInsertsWhilePaging", func(t *testing.T, d ports.UserDirectory, s ports.UserStore) {
		existing := orderedUsers(t, 30)
		for _, u := range existing {
			mustCreate(t, s, u)
		}
		// Writers insert while the pages are read, and one more user is
		// inserted between every two pages. Their ids are newer, so they sort
		// after every existing user and cannot move one across a page
		// boundary; a store that paged by anything but id (insertion order
		// in a map, a sort on another column) would show it here.
		stop := make(chan struct{})
		var (
			wg       sync.WaitGroup
			mu       sync.Mutex
			inserted = map[domain.UserID]bool{}
		)
		insert := func(label string) {
			u := orderedUsers(t, 1, label)[0]
			if err := s.Create(t.Context(), u); err != nil {
				t.Errorf("Create during paging: %v", err)
				return
			}
			mu.Lock()
			inserted[u.ID] = true
			mu.Unlock()
		}
		for w := range 3 {
			wg.Go(func() {
				// Bounded, so that a fast store does not grow without end
				// while the pages are read.
				for i := range 50 {
					select {
					case <-stop:
						return
					default:
					}
					insert(fmt.Sprintf("writer %d-%d", w, i))
				}
			})
		}
		seen := map[domain.UserID]int{}
		var after domain.UserID
		for pages := 0; ; pages++ {
			page := mustList(t, d, ports.UserQuery{After: after, Limit: 4})
			if len(page) == 0 || pages > 1000 {
				break
			}
			for i, u := range page {
				seen[u.ID]++
				if i > 0 && page[i-1].ID >= u.ID {
					t.Errorf("page out of order: %s then %s", page[i-1].ID, u.ID)
				}
			}
			after = page[len(page)-1].ID
			insert(fmt.Sprintf("between pages %d", pages))
			if after >= existing[len(existing)-1].ID {
				// Past every existing user; what follows is only new ones.
				break
			}
		}
		close(stop)
		wg.Wait()
		for _, u := range existing {
			if n := seen[u.ID]; n != 1 {
				t.Errorf("existing user %s seen %d times, want once", u.ID, n)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for id, n := range seen {
			if n > 1 {
				t.Errorf("user %s seen %d times", id, n)
			}
			if !inserted[id] && !slices.ContainsFunc(existing, func(u domain.User) bool { return u.ID == id }) {
				t.Errorf("listed user %s was never created", id)
			}
		}
	})
}

// orderedUsers returns n valid users whose ids are UUIDv7, increasing in
// the order returned, as the app makes them. Each gets a label from its
// index, plus an optional prefix.
func orderedUsers(t *testing.T, n int, prefix ...string) []domain.User {
	t.Helper()
	users := make([]domain.User, n)
	for i := range users {
		label := strings.Join(append(slices.Clone(prefix), fmt.Sprint("user ", i)), " ")
		u := newUser(t, label)
		u.ID = domain.UserID(uuid.Must(uuid.NewV7()).String())
		users[i] = u
	}
	return users
}

func mustList(t *testing.T, d ports.UserDirectory, q ports.UserQuery) []domain.User {
	t.Helper()
	got, err := d.List(t.Context(), q)
	if err != nil {
		t.Fatalf("List(%+v): %v", q, err)
	}
	return got
}

func assertListIDs(t *testing.T, what string, got, want []domain.User) {
	t.Helper()
	ids := func(us []domain.User) []domain.UserID {
		out := make([]domain.UserID, len(us))
		for i, u := range us {
			out[i] = u.ID
		}
		return out
	}
	if g, w := ids(got), ids(want); !slices.Equal(g, w) {
		t.Fatalf("%s returned ids\n\t%v\nwant\n\t%v", what, g, w)
	}
}
