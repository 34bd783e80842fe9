// Package keyedmac reuses keyed HMACs across messages. Keying an HMAC hashes
// two blocks and allocates two hashes, as much work as a kilobyte of body:
// a webhook's deliveries all sign with the same secret, so each key's HMACs
// are kept, ready, for the next message.
package keyedmac

import (
	"crypto/hmac"
	"hash"
	"sync"
)

// Set holds HMACs of one hash function, keyed by many keys. It is safe for
// concurrent use. It remembers every key it has seen, one small entry each:
// its keys are webhook secrets, a few per webhook over its life.
type Set struct {
	h     func() hash.Hash
	pools sync.Map // key string → *sync.Pool of hash.Hash
}

// New returns a set of HMACs over h.
func New(h func() hash.Hash) *Set { return &Set{h: h} }

// Sum appends to dst the HMAC of the concatenation of parts, keyed by key.
func (s *Set) Sum(dst []byte, key string, parts ...[]byte) []byte {
	p, ok := s.pools.Load(key)
	if !ok {
		k := []byte(key)
		p, _ = s.pools.LoadOrStore(key, &sync.Pool{New: func() any { return hmac.New(s.h, k) }})
	}
	pool := p.(*sync.Pool)
	m := pool.Get().(hash.Hash)
	m.Reset()
	for _, b := range parts {
		m.Write(b)
	}
	dst = m.Sum(dst)
	pool.Put(m)
	return dst
}
