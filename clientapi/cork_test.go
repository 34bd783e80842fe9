package clientapi

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"
)

// loopbackPair is a TCP connection on 127.0.0.1: the server's end, and the
// client's.
func loopbackPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

// nothingArrives fails the test if c has something to read within d.
func nothingArrives(t *testing.T, c net.Conn, d time.Duration) {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(d))
	defer c.SetReadDeadline(time.Time{})
	var b [1]byte
	n, err := c.Read(b[:])
	if n > 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read %d bytes (%v) while the connection was corked", n, err)
	}
}

func TestCorkedWritesLeaveTogetherInOrder(t *testing.T) {
	server, client := loopbackPair(t)
	c := &corkConn{Conn: server}

	if _, err := c.Write([]byte("plain ")); err != nil {
		t.Fatal(err)
	}
	c.cork()
	c.Write([]byte("first "))
	c.Write([]byte("second "))
	// A write from elsewhere while corked (a ping) goes out in its turn.
	other := make(chan error, 1)
	go func() {
		_, err := c.Write([]byte("third "))
		other <- err
	}()
	if err := <-other; err != nil {
		t.Fatal(err)
	}
	want := "plain "
	got := make([]byte, len(want))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
	nothingArrives(t, client, 50*time.Millisecond)

	if err := c.uncork(time.Second); err != nil {
		t.Fatal(err)
	}
	c.Write([]byte("after"))
	want = "first second third after"
	got = make([]byte, len(want))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != want {
		t.Fatalf("read %q, %v; want %q", got, err, want)
	}
	// Uncorking twice, or with nothing held, writes nothing.
	if err := c.uncork(time.Second); err != nil {
		t.Fatal(err)
	}
	c.cork()
	if err := c.uncork(time.Second); err != nil {
		t.Fatal(err)
	}
	nothingArrives(t, client, 20*time.Millisecond)
}

// A peer that reads nothing cannot hold the uncorking write past its
// timeout; what it did not take stays held, and reaches it whole, in
// order, before anything written later, once it reads again.
func TestUncorkKeepsWhatASlowPeerDidNotTake(t *testing.T) {
	server, client := loopbackPair(t)
	c := &corkConn{Conn: server}
	c.cork()
	// Far more than the kernel's buffers on both ends take.
	const chunks, size = 32, 512 << 10
	for i := range chunks {
		chunk := make([]byte, size)
		for j := range chunk {
			chunk[j] = byte(i)
		}
		c.Write(chunk)
	}
	began := time.Now()
	err := c.uncork(200 * time.Millisecond)
	if !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("uncork to a peer that reads nothing: %v, want the deadline exceeded", err)
	}
	if took := time.Since(began); took > 5*time.Second {
		t.Fatalf("uncork took %v with a timeout of 200ms", took)
	}

	got := make(chan []byte, 1)
	go func() {
		b, _ := io.ReadAll(io.LimitReader(client, chunks*size+5))
		got <- b
	}()
	if _, err := c.Write([]byte("after")); err != nil {
		t.Fatal(err)
	}
	if err := c.flush(time.Second); err != nil {
		t.Fatal(err)
	}
	b := <-got
	if len(b) != chunks*size+5 || string(b[chunks*size:]) != "after" {
		t.Fatalf("the peer read %d bytes, want %d ending with %q", len(b), chunks*size+5, "after")
	}
	for i := range chunks {
		if b[i*size] != byte(i) || b[(i+1)*size-1] != byte(i) {
			t.Fatalf("chunk %d out of order", i)
		}
	}
}
