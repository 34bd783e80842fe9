package keyedmac

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"fmt"
	"hash"
	"sync"
	"testing"
)

func plain(h func() hash.Hash, key string, parts ...[]byte) []byte {
	m := hmac.New(h, []byte(key))
	for _, b := range parts {
		m.Write(b)
	}
	return m.Sum(nil)
}

// Reused HMACs give what fresh ones give, for every key, whatever the order
// and concurrency of the messages.
func TestSumMatchesFreshHMAC(t *testing.T) {
	for _, h := range []func() hash.Hash{sha1.New, sha256.New} {
		s := New(h)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 200 {
					key := fmt.Sprint("secret-", (g+i)%3)
					body := []byte(fmt.Sprint("body ", g, " ", i))
					got := s.Sum([]byte("prefix:"), key, []byte("123."), body)
					want := append([]byte("prefix:"), plain(h, key, []byte("123."), body)...)
					if !hmac.Equal(got, want) {
						t.Errorf("key %s body %q: got %x, want %x", key, body, got, want)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}
