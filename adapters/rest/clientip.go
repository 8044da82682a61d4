package rest

import (
	"net/http"
	"net/netip"
	"strings"
)

// clientAddr is the address a request came from: the peer, unless the peer
// is a trusted proxy, in which case X-Forwarded-For is walked from the right
// (the hop the proxy itself appended) past every trusted hop to the first
// one that is not. Everything left of that is written by the client and
// proves nothing. A hop that does not parse ends the walk at the last
// address that did. The zero Addr means the peer address was unreadable.
func clientAddr(r *http.Request, trusted []netip.Prefix) netip.Addr {
	addr := peerAddr(r.RemoteAddr)
	if !addr.IsValid() || !isTrusted(addr, trusted) {
		return addr
	}
	hops := r.Header.Values("X-Forwarded-For")
	for i := len(hops) - 1; i >= 0; i-- {
		parts := strings.Split(hops[i], ",")
		for j := len(parts) - 1; j >= 0; j-- {
			hop, err := netip.ParseAddr(strings.TrimSpace(parts[j]))
			if err != nil {
				return addr
			}
			addr = normalize(hop)
			if !isTrusted(addr, trusted) {
				return addr
			}
		}
	}
	return addr
}

func peerAddr(remote string) netip.Addr {
	if ap, err := netip.ParseAddrPort(remote); err == nil {
		return normalize(ap.Addr())
	}
	if a, err := netip.ParseAddr(remote); err == nil {
		return normalize(a)
	}
	return netip.Addr{}
}

// normalize makes one host one key: an IPv4 peer seen through a dual-stack
// socket (::ffff:192.0.2.1) is 192.0.2.1, and zones are local detail.
func normalize(a netip.Addr) netip.Addr { return a.Unmap().WithZone("") }

func isTrusted(a netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// rateKey is the bucket an address is counted in. An IPv6 client usually
// holds a whole /64, so counting single addresses would let it rotate
// through 2^64 fresh buckets.
func rateKey(a netip.Addr) string {
	switch {
	case !a.IsValid():
		return "ip:unknown"
	case a.Is6():
		p, _ := a.Prefix(64)
		return "ip:" + p.String()
	default:
		return "ip:" + a.String()
	}
}

// addrString is a's text form, or "" when a is the zero Addr (which
// netip prints as "invalid IP").
func addrString(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
