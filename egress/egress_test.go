package egress

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestPermitted(t *testing.T) {
	refusedAddrs := []string{
		// IPv4, one or two per range, with the cloud metadata services.
		"0.0.0.0", "0.1.2.3", "10.0.0.1", "10.255.255.255", "100.64.0.1", "100.100.100.200", "100.127.255.255",
		"127.0.0.1", "127.1.2.3", "169.254.0.1", "169.254.169.254", "172.16.0.1", "172.31.255.255",
		"192.0.0.1", "192.0.0.170", "192.0.2.7", "192.88.99.1", "192.168.1.1", "198.18.0.1", "198.19.255.255",
		"198.51.100.1", "203.0.113.9", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
		// IPv6.
		"::", "::1", "::7f00:1", "::ffff:0:7f00:1", "64:ff9b:1::a00:1", "100::1", "2001::1", "2001:0:4136:e378::1",
		"2001:db8::1", "3fff::1", "5f00::1", "fc00::1", "fd00::1", "fd00:ec2::254", "fec0::1", "fe80::1",
		"fe80::1%eth0", "ff02::1", "ff05::1:3",
		// IPv4-mapped, in every spelling: the embedded address is checked.
		"::ffff:127.0.0.1", "0:0:0:0:0:ffff:7f00:1", "::ffff:169.254.169.254", "::ffff:10.0.0.1", "::ffff:0.0.0.0",
		// NAT64 and 6to4 forwarding to a refused IPv4 address.
		"64:ff9b::7f00:1", "64:ff9b::169.254.169.254", "2002:a9fe:a9fe::1", "2002:7f00:1::",
	}
	for _, s := range refusedAddrs {
		if Permitted(netip.MustParseAddr(s), nil) {
			t.Errorf("%s is permitted", s)
		}
	}
	permittedAddrs := []string{
		"1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0", "126.255.255.255",
		"128.0.0.0", "169.253.255.255", "172.15.255.255", "172.32.0.0", "192.0.1.0", "192.167.255.255",
		"192.169.0.0", "198.17.255.255", "198.20.0.0", "223.255.255.255",
		"2606:4700:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1",
		"::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1",
	}
	for _, s := range permittedAddrs {
		if !Permitted(netip.MustParseAddr(s), nil) {
			t.Errorf("%s is refused", s)
		}
	}
	if Permitted(netip.Addr{}, nil) {
		t.Error("the zero address is permitted")
	}
}

func TestPermittedWithAllowList(t *testing.T) {
	allow, err := ParseAllowList("127.0.0.0/8, ::1/128,10.1.0.0/16,fd12::/16")
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{
		"127.0.0.1": true, "127.9.9.9": true, "::1": true, "::ffff:127.0.0.1": true, "64:ff9b::7f00:1": true,
		"10.1.2.3": true, "fd12::5": true,
		// Exempting some ranges leaves the others refused.
		"10.2.0.1": false, "169.254.169.254": false, "192.168.1.1": false, "fd13::1": false, "fe80::1": false,
		"0.0.0.0": false, "::": false,
		"8.8.8.8": true,
	} {
		if got := Permitted(netip.MustParseAddr(s), allow); got != want {
			t.Errorf("with %v, Permitted(%s) = %t, want %t", allow, s, got, want)
		}
	}
}

func TestParseAllowList(t *testing.T) {
	for in, want := range map[string]string{
		"":                             "",
		" , ":                          "",
		"127.0.0.0/8,::1/128":          "127.0.0.0/8,::1/128",
		" 127.0.0.0/8 , ::1/128 ,":     "127.0.0.0/8,::1/128",
		"10.1.2.3":                     "10.1.2.3/32",
		"fd00::1":                      "fd00::1/128",
		"10.1.2.3/16":                  "10.1.0.0/16",
		"::ffff:10.0.0.0/104":          "10.0.0.0/8",
		"0.0.0.0/0,::/0":               "0.0.0.0/0,::/0",
		"192.168.0.0/16,172.16.0.0/12": "192.168.0.0/16,172.16.0.0/12",
	} {
		got, err := ParseAllowList(in)
		if err != nil {
			t.Errorf("ParseAllowList(%q): %v", in, err)
			continue
		}
		if s := FormatAllowList(got); s != want {
			t.Errorf("ParseAllowList(%q) = %s, want %s", in, s, want)
		}
	}
	for _, bad := range []string{"10.0.0.0/33", "localhost", "127.0.0.0/8,not-a-range", "10.0.0/8", "::1/129",
		"fe80::1%eth0/64", "127.1/8"} {
		_, err := ParseAllowList(bad)
		if err == nil {
			t.Errorf("ParseAllowList(%q) accepted it", bad)
			continue
		}
		// The message names the bad entry, not the whole list.
		name := bad[strings.LastIndex(bad, ",")+1:]
		if !strings.Contains(err.Error(), `"`+name+`"`) {
			t.Errorf("ParseAllowList(%q): %q does not name %q", bad, err, name)
		}
	}
}

func TestNumericHost(t *testing.T) {
	for _, h := range []string{"127.1", "0x7f000001", "0X7F000001", "2130706433", "0177.0.0.1", "0x7f.1",
		"127.0.0.1", "127.0.0.1.", "1.2.3.4.5", "0", "0x"} {
		if !NumericHost(h) {
			t.Errorf("NumericHost(%q) = false", h)
		}
	}
	for _, h := range []string{"", ".", "example.com", "cafe.be", "1e100.net", "123.example", "0xdead.beef",
		"127..1", "localhost", "deadbeef", "x7f000001"} {
		if NumericHost(h) {
			t.Errorf("NumericHost(%q) = true", h)
		}
	}
}

// listener accepts connections on addr and counts them.
func listener(t *testing.T, addr string) (port string, accepted *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s: %v", addr, err)
	}
	t.Cleanup(func() { l.Close() })
	accepted = &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			accepted.Add(1)
			c.Close()
		}
	}()
	_, port, _ = net.SplitHostPort(l.Addr().String())
	return port, accepted
}

// The dialer refuses loopback whatever the spelling, by name too, without
// a single connection reaching the listener; exempted, it connects.
func TestDialerRefusesBeforeConnecting(t *testing.T) {
	port4, accepted4 := listener(t, "127.0.0.1:0")
	port6, accepted6 := listener(t, "[::1]:0")
	targets := []struct{ host, port string }{
		{"127.0.0.1", port4}, {"localhost", port4}, {"::ffff:127.0.0.1", port4},
		{"0:0:0:0:0:ffff:7f00:1", port4}, {"::1", port6},
	}
	ctx := context.Background()
	dial := Dialer(nil)
	for _, target := range targets {
		c, err := dial(ctx, "tcp", net.JoinHostPort(target.host, target.port))
		if err == nil {
			c.Close()
			t.Fatalf("dialled %s", target.host)
		}
		var refused *RefusedError
		if !errors.As(err, &refused) || refused.Host != target.host {
			t.Fatalf("dialling %s: %v, want a RefusedError naming the host", target.host, err)
		}
		if strings.Contains(err.Error(), target.port) {
			t.Fatalf("the refusal %q names the port", err)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if n := accepted4.Load() + accepted6.Load(); n != 0 {
		t.Fatalf("the listeners accepted %d connections from refused dials", n)
	}

	dial = Dialer(Loopback)
	for _, target := range targets {
		c, err := dial(ctx, "tcp", net.JoinHostPort(target.host, target.port))
		if err != nil {
			t.Fatalf("dialling %s with loopback exempted: %v", target.host, err)
		}
		c.Close()
	}
}

// A refused address gives the same error whether a service listens on it
// or not: no port scan through the errors.
func TestRefusalSaysNothingOfThePort(t *testing.T) {
	open, _ := listener(t, "127.0.0.1:0")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	_, closed, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	client := &http.Client{Transport: NewTransport(nil)}
	errorOf := func(port string) string {
		res, err := client.Get("http://127.0.0.1:" + port + "/")
		if err == nil {
			res.Body.Close()
			t.Fatalf("port %s answered", port)
		}
		var refused *RefusedError
		if !errors.As(err, &refused) {
			t.Fatalf("port %s: %v, want a refusal", port, err)
		}
		return refused.Error()
	}
	if a, b := errorOf(open), errorOf(closed); a != b {
		t.Fatalf("open port: %q; closed port: %q", a, b)
	}
}

func TestTransport(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	tr := NewTransport(nil)
	if tr.Proxy != nil {
		t.Fatal("the transport takes a proxy from the environment")
	}

	// Response headers beyond the bound fail the request.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 4096)
				c.Read(buf)
				io.WriteString(c, "HTTP/1.1 200 OK\r\n")
				for range 200 {
					io.WriteString(c, "X-Big: "+strings.Repeat("x", 1000)+"\r\n")
				}
				io.WriteString(c, "Content-Length: 0\r\n\r\n")
			}()
		}
	}()
	client := &http.Client{Transport: NewTransport(Loopback)}
	res, err := client.Get("http://" + l.Addr().String() + "/")
	if err == nil {
		res.Body.Close()
		t.Fatalf("200 KB of headers accepted (%d fields)", len(res.Header["X-Big"]))
	}
	if !strings.Contains(err.Error(), "headers exceeded") {
		t.Fatalf("error %q does not say why", err)
	}
}
