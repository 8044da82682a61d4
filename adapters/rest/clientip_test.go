package rest

import (
	"net/http/httptest"
	"net/netip"
	"testing"
)

func TestClientAddr(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	tests := []struct {
		name    string
		remote  string
		xff     []string
		trusted []netip.Prefix
		want    string
	}{
		{name: "peer, nothing trusted", remote: "192.0.2.7:4000", want: "192.0.2.7"},
		{name: "forwarded header from an untrusted peer is ignored", remote: "192.0.2.7:4000",
			xff: []string{"198.51.100.1"}, trusted: proxies, want: "192.0.2.7"},
		{name: "forwarded header with nothing trusted is ignored", remote: "10.0.0.1:4000",
			xff: []string{"198.51.100.1"}, want: "10.0.0.1"},
		{name: "trusted proxy", remote: "10.0.0.1:4000",
			xff: []string{"198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "client-written hops left of the proxy's are ignored", remote: "10.0.0.1:4000",
			xff: []string{"6.6.6.6, 198.51.100.1"}, trusted: proxies, want: "198.51.100.1"},
		{name: "chain of trusted proxies", remote: "10.0.0.1:4000",
			xff: []string{"6.6.6.6, 198.51.100.1, 10.0.0.9,10.0.0.8"}, trusted: proxies, want: "198.51.100.1"},
		{name: "several header lines read as one list", remote: "10.0.0.1:4000",
			xff: []string{"6.6.6.6, 198.51.100.1", "10.0.0.9"}, trusted: proxies, want: "198.51.100.1"},
		{name: "every hop trusted: the farthest", remote: "10.0.0.1:4000",
			xff: []string{"10.0.0.3, 10.0.0.2"}, trusted: proxies, want: "10.0.0.3"},
		{name: "garbage hop ends the walk at the last good one", remote: "10.0.0.1:4000",
			xff: []string{"198.51.100.1, not-an-ip, 10.0.0.2"}, trusted: proxies, want: "10.0.0.2"},
		{name: "empty header", remote: "10.0.0.1:4000", xff: []string{""}, trusted: proxies, want: "10.0.0.1"},
		{name: "IPv6 peer", remote: "[2001:db8::1]:4000", want: "2001:db8::1"},
		{name: "IPv6 zone dropped", remote: "[fe80::1%eth0]:4000", want: "fe80::1"},
		{name: "IPv4-mapped peer", remote: "[::ffff:192.0.2.7]:4000", want: "192.0.2.7"},
		{name: "IPv4-mapped trusted proxy", remote: "[::ffff:10.0.0.1]:4000",
			xff: []string{"2001:db8::5"}, trusted: proxies, want: "2001:db8::5"},
		{name: "IPv6 proxy", remote: "[fd00::1]:4000",
			xff: []string{"192.0.2.9"}, trusted: proxies, want: "192.0.2.9"},
		{name: "peer without a port", remote: "192.0.2.7", want: "192.0.2.7"},
		{name: "unreadable peer", remote: "pipe", want: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := addrString(clientAddr(r, tt.trusted)); got != tt.want {
				t.Errorf("clientAddr = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRateKey(t *testing.T) {
	for addr, want := range map[string]string{
		"192.0.2.7":                "ip:192.0.2.7",
		"2001:db8:1:2:aaaa::1":     "ip:2001:db8:1:2::/64",
		"2001:db8:1:2:bbbb:cc::99": "ip:2001:db8:1:2::/64", // same /64, same bucket
		"2001:db8:1:3::1":          "ip:2001:db8:1:3::/64",
	} {
		if got := rateKey(netip.MustParseAddr(addr)); got != want {
			t.Errorf("rateKey(%s) = %q, want %q", addr, got, want)
		}
	}
	if got := rateKey(netip.Addr{}); got != "ip:unknown" {
		t.Errorf("rateKey(zero) = %q", got)
	}
}
