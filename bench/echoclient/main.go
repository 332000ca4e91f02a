// Command echoclient is the load generator of goloop's echo benchmarks.
//
// It opens -conns TCP connections to -addr, then sends -requests messages
// of -size bytes in total, spread over the connections: each connection
// writes one message, waits for the complete echo, checks it byte for byte
// and takes the next request number, until all are done. It prints one
// JSON object: requests, seconds, requests per second and latency
// percentiles in microseconds, or an "error" (and exits 1) on a refused
// connection, a short or wrong echo, or a request that took longer than
// -timeout.
package main

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"sort"
	"sync"
	"sync/atomic"
	"time"
)

type report struct {
	Requests int64   `json:"requests"`
	Conns    int     `json:"conns"`
	Size     int     `json:"size"`
	Seconds  float64 `json:"seconds"`
	RPS      float64 `json:"rps"`
	P50us    float64 `json:"p50_us"`
	P90us    float64 `json:"p90_us"`
	P99us    float64 `json:"p99_us"`
	MaxUs    float64 `json:"max_us"`
	Error    string  `json:"error,omitempty"`
}

type worker struct {
	id      int
	conn    net.Conn
	out     []byte
	in      []byte
	lat     []time.Duration
	timeout time.Duration
}

// fill stamps the message with the connection id and request number so a
// reordered or stale echo is caught, the rest being a fixed pattern.
func (w *worker) fill(seq int64) {
	binary.LittleEndian.PutUint64(w.out[0:8], uint64(w.id))
	binary.LittleEndian.PutUint64(w.out[8:16], uint64(seq))
}

func (w *worker) run(next *atomic.Int64, total int64) error {
	for {
		seq := next.Add(1)
		if seq > total {
			return nil
		}
		w.fill(seq)
		start := time.Now()
		if err := w.conn.SetDeadline(start.Add(w.timeout)); err != nil {
			return err
		}
		if _, err := w.conn.Write(w.out); err != nil {
			return fmt.Errorf("request %d: write: %w", seq, err)
		}
		if _, err := io.ReadFull(w.conn, w.in); err != nil {
			return fmt.Errorf("request %d: read echo of %d bytes: %w", seq, len(w.in), err)
		}
		w.lat = append(w.lat, time.Since(start))
		if !bytes.Equal(w.in, w.out) {
			return fmt.Errorf("request %d: echo differs from the message sent", seq)
		}
	}
}

func percentile(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return float64(sorted[i].Nanoseconds()) / 1e3
}

func fail(rep report, err error) {
	rep.Error = err.Error()
	_ = json.NewEncoder(os.Stdout).Encode(rep)
	os.Exit(1)
}

func main() {
	addr := flag.String("addr", "127.0.0.1:25000", "server address")
	conns := flag.Int("conns", 10, "concurrent connections")
	size := flag.Int("size", 1024, "message size in bytes (at least 16)")
	requests := flag.Int64("requests", 10000, "requests in total over all connections")
	timeout := flag.Duration("timeout", 10*time.Second, "longest wait for one echo")
	flag.Parse()
	rep := report{Conns: *conns, Size: *size}
	if *size < 16 || *conns < 1 || *requests < 1 {
		fail(rep, fmt.Errorf("need -size >= 16, -conns >= 1, -requests >= 1"))
	}

	pattern := make([]byte, *size)
	for i := range pattern {
		pattern[i] = byte('a' + i%26)
	}
	workers := make([]*worker, *conns)
	for i := range workers {
		c, err := net.DialTimeout("tcp", *addr, *timeout)
		if err != nil {
			fail(rep, fmt.Errorf("connection %d: %w", i, err))
		}
		defer c.Close()
		out := append([]byte(nil), pattern...)
		workers[i] = &worker{id: i, conn: c, out: out, in: make([]byte, *size),
			lat: make([]time.Duration, 0, *requests/int64(*conns)+1), timeout: *timeout}
	}

	var next atomic.Int64
	errs := make([]error, *conns)
	var wg sync.WaitGroup
	start := time.Now()
	for i, w := range workers {
		wg.Add(1)
		go func(i int, w *worker) {
			defer wg.Done()
			if err := w.run(&next, *requests); err != nil {
				errs[i] = err
				next.Store(*requests) // stop the others
			}
		}(i, w)
	}
	wg.Wait()
	elapsed := time.Since(start)

	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.lat...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i] < all[j] })
	rep.Requests = int64(len(all))
	rep.Seconds = elapsed.Seconds()
	if rep.Seconds > 0 {
		rep.RPS = float64(rep.Requests) / rep.Seconds
	}
	rep.P50us = percentile(all, 0.50)
	rep.P90us = percentile(all, 0.90)
	rep.P99us = percentile(all, 0.99)
	rep.MaxUs = percentile(all, 1.0)
	for i, err := range errs {
		if err != nil {
			fail(rep, fmt.Errorf("connection %d: %w", i, err))
		}
	}
	_ = json.NewEncoder(os.Stdout).Encode(rep)
}
