// Package egress guards the requests Herald makes to URLs that tenants
// choose (webhook deliveries, Layer's verification GETs, Callbell's health
// checks): they may reach the public internet, not the machine Herald runs
// on, its private network or its cloud's metadata service, unless the
// operator exempts a range.
//
// The guard sits in the dialer, after DNS resolution: every address a
// connection is about to be made to is checked just before connect(2), on
// the socket that then connects to it. No second lookup can give another
// answer (DNS rebinding), and nothing is sent to a refused address.
package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// refused lists the ranges Herald never connects to unless exempted: every
// range of the IANA IPv4 and IPv6 Special-Purpose Address Registries that
// is not globally reachable, and multicast:
//
//	https://www.iana.org/assignments/iana-ipv4-special-registry/
//	https://www.iana.org/assignments/iana-ipv6-special-registry/
//	https://www.iana.org/assignments/multicast-addresses/
//
// IPv4-mapped IPv6 addresses (::ffff:0:0/96) are not listed: Permitted
// checks the IPv4 address they embed, which is the one a dual-stack socket
// connects to (Go itself dials ::ffff:127.0.0.1 as 127.0.0.1). The same
// holds for the prefixes that embed an IPv4 address a gateway forwards to,
// the NAT64 well-known prefix and 6to4 (see embeddedIPv4): a public IPv4
// address behind them is fine, a private one is refused.
var refused = prefixes(
	// IPv4.
	"0.0.0.0/8",       // "this network"; 0.0.0.0 reaches the local host
	"10.0.0.0/8",      // private (RFC 1918)
	"100.64.0.0/10",   // shared address space, CGNAT (RFC 6598); Alibaba Cloud's metadata 100.100.100.200
	"127.0.0.0/8",     // loopback
	"169.254.0.0/16",  // link-local; the metadata service of AWS, GCP, Azure and others at 169.254.169.254
	"172.16.0.0/12",   // private (RFC 1918)
	"192.0.0.0/24",    // IETF protocol assignments
	"192.0.2.0/24",    // documentation (TEST-NET-1)
	"192.88.99.0/24",  // deprecated 6to4 relay anycast
	"192.168.0.0/16",  // private (RFC 1918)
	"198.18.0.0/15",   // benchmarking
	"198.51.100.0/24", // documentation (TEST-NET-2)
	"203.0.113.0/24",  // documentation (TEST-NET-3)
	"224.0.0.0/4",     // multicast
	"240.0.0.0/4",     // reserved
	"255.255.255.255/32",
	// IPv6.
	"::/128",          // unspecified
	"::1/128",         // loopback
	"::/96",           // deprecated IPv4-compatible addresses (RFC 4291)
	"::ffff:0:0:0/96", // IPv4-translated addresses (RFC 2765)
	"64:ff9b:1::/48",  // local-use IPv4/IPv6 translation (RFC 8215)
	"100::/64",        // discard-only
	"2001::/23",       // IETF protocol assignments, Teredo (2001::/32) among them
	"2001:db8::/32",   // documentation
	"3fff::/20",       // documentation
	"5f00::/16",       // segment routing (SRv6) SIDs
	"fc00::/7",        // unique local addresses; AWS's metadata at fd00:ec2::254
	"fec0::/10",       // deprecated site-local addresses (RFC 3879)
	"fe80::/10",       // link-local
	"ff00::/8",        // multicast
)

var (
	nat64  = netip.MustParsePrefix("64:ff9b::/96") // RFC 6052: the IPv4 address in the last 32 bits
	sixTo4 = netip.MustParsePrefix("2002::/16")    // RFC 3056: the IPv4 address in bits 16 to 47
)

// Loopback exempts the local host's loopback addresses: for development
// and tests, whose receivers listen on 127.0.0.1 or [::1].
var Loopback = prefixes("127.0.0.0/8", "::1/128")

func prefixes(ss ...string) []netip.Prefix {
	out := make([]netip.Prefix, len(ss))
	for i, s := range ss {
		out[i] = netip.MustParsePrefix(s)
	}
	return out
}

func contains(ranges []netip.Prefix, ip netip.Addr) bool {
	for _, p := range ranges {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// Permitted reports whether Herald may connect to ip: it is in one of the
// allow ranges, or in none of the refused ones.
func Permitted(ip netip.Addr, allow []netip.Prefix) bool {
	// A zone would make every Prefix.Contains false.
	ip = ip.WithZone("").Unmap()
	if !ip.IsValid() {
		return false
	}
	if contains(allow, ip) {
		return true
	}
	if contains(refused, ip) {
		return false
	}
	if v4, ok := embeddedIPv4(ip); ok {
		return Permitted(v4, allow)
	}
	return true
}

// embeddedIPv4 returns the IPv4 address that a NAT64 or 6to4 address
// forwards to.
func embeddedIPv4(ip netip.Addr) (netip.Addr, bool) {
	b := ip.As16()
	switch {
	case nat64.Contains(ip):
		return netip.AddrFrom4([4]byte(b[12:16])), true
	case sixTo4.Contains(ip):
		return netip.AddrFrom4([4]byte(b[2:6])), true
	}
	return netip.Addr{}, false
}

// ParseAllowList reads a comma-separated list of ranges, in CIDR notation
// (127.0.0.0/8, ::1/128) or as single addresses (10.1.2.3); spaces and
// empty entries are ignored. Ranges of IPv4-mapped IPv6 addresses are read
// as the IPv4 ranges they map, which is what Permitted compares them with.
func ParseAllowList(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		var p netip.Prefix
		var err error
		if strings.Contains(item, "/") {
			p, err = netip.ParsePrefix(item)
		} else {
			var ip netip.Addr
			if ip, err = netip.ParseAddr(item); err == nil {
				p, err = ip.Prefix(ip.BitLen())
			}
		}
		if err != nil {
			return nil, fmt.Errorf("%q is not an address range in CIDR notation, such as 127.0.0.0/8 or ::1/128", item)
		}
		if p.Addr().Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		out = append(out, p.Masked())
	}
	return out, nil
}

// FormatAllowList writes ranges as ParseAllowList reads them.
func FormatAllowList(ranges []netip.Prefix) string {
	s := make([]string, len(ranges))
	for i, p := range ranges {
		s[i] = p.String()
	}
	return strings.Join(s, ",")
}

// NumericHost reports whether host is made of numbers only, dot-separated:
// decimal, octal with a leading 0 or hexadecimal with 0x, as the C
// library's inet_aton reads IPv4 addresses (127.1, 0x7f000001, 2130706433,
// 0177.0.0.1). Such a host is no DNS name (no top-level domain is
// numeric), and programs disagree on the address it means: Go looks it up
// as a name, curl and many proxies read it as an address. The one
// unambiguous spelling is the dotted quad, which netip.ParseAddr reads: it
// is numeric too, so callers try netip.ParseAddr first.
func NumericHost(host string) bool {
	host = strings.TrimSuffix(host, ".")
	if host == "" {
		return false
	}
	for label := range strings.SplitSeq(host, ".") {
		digits := label
		hex := len(label) >= 2 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X')
		if hex {
			digits = label[2:]
		} else if label == "" {
			return false
		}
		for _, c := range []byte(digits) {
			if !(c >= '0' && c <= '9' || hex && (c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F')) {
				return false
			}
		}
	}
	return true
}

// RefusedError is a connection the guard refused. Its message is the same
// whatever listens at the address, and names the host as the URL gives it,
// not the address it resolved to.
type RefusedError struct {
	Host string
}

func (e *RefusedError) Error() string {
	return fmt.Sprintf("Herald does not connect to %s: it is, or resolves to, a loopback, private, link-local, "+
		"multicast or otherwise reserved address", e.Host)
}

// errRefused is what the dialer's Control returns, before connecting.
var errRefused = errors.New("egress: address refused")

// MaxResponseHeaderBytes bounds the response headers a receiver may send;
// the request fails beyond it.
const MaxResponseHeaderBytes = 64 << 10

// DialTimeout bounds the connection to one address.
const DialTimeout = 5 * time.Second

// Dialer returns a DialContext that connects only to permitted addresses:
// the host is resolved as usual, and each address is checked on its
// socket just before it connects. A refusal is a *RefusedError.
func Dialer(allow []netip.Prefix) func(ctx context.Context, network, address string) (net.Conn, error) {
	allow = append([]netip.Prefix(nil), allow...)
	d := &net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second,
		Control: func(_, address string, _ syscall.RawConn) error {
			ap, err := netip.ParseAddrPort(address)
			if err != nil || !Permitted(ap.Addr(), allow) {
				return errRefused
			}
			return nil
		}}
	return func(ctx context.Context, network, address string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, address)
		if err != nil && errors.Is(err, errRefused) {
			host, _, splitErr := net.SplitHostPort(address)
			if splitErr != nil {
				host = address
			}
			return nil, &RefusedError{Host: host}
		}
		return c, err
	}
}

// NewTransport returns a pooled keep-alive transport whose connections go
// only to permitted addresses, with response headers bounded by
// MaxResponseHeaderBytes.
//
// It takes no proxy from the environment (HTTP_PROXY and the like): with
// a proxy, the address checked would be the proxy's, and the target's
// would go unchecked; and Go never proxies loopback targets anyway, so a
// filtering proxy could not stand in for this guard.
func NewTransport(allow []netip.Prefix) *http.Transport {
	return &http.Transport{
		Proxy:                  nil,
		DialContext:            Dialer(allow),
		MaxIdleConns:           1024,
		MaxIdleConnsPerHost:    64,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		MaxResponseHeaderBytes: MaxResponseHeaderBytes,
		ForceAttemptHTTP2:      true,
	}
}
