// Command tamperproxy is the interoperability test's dishonest log: an HTTP
// reverse proxy to a real ledgerd that passes everything through unchanged
// except the body of one path, in which it flips one bit of one byte. It
// lets the test show that tlogcheck rejects a log whose served bytes differ
// from what it signed, with the checker itself unchanged.
//
//	tamperproxy -upstream http://127.0.0.1:PORT -path /log/tile/entries/000 -offset 10
//
// It prints "listening on http://ADDR" once it accepts connections, then
// serves until killed. A 200 answer for -path whose body is too short to
// hold -offset is answered 502 instead, so a tampering that cannot happen
// fails the test rather than passing unaltered bytes.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
)

func main() {
	upstream := flag.String("upstream", "", "the real server's base URL")
	path := flag.String("path", "", "the one path whose answer is altered")
	offset := flag.Int("offset", 0, "which byte of its body to alter")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	flag.Parse()
	target, err := url.Parse(*upstream)
	if err != nil || target.Host == "" || *path == "" || *offset < 0 {
		fmt.Fprintln(os.Stderr, "usage: tamperproxy -upstream URL -path PATH -offset N [-listen ADDR]")
		os.Exit(2)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.ModifyResponse = func(resp *http.Response) error {
		if resp.Request.URL.Path != *path || resp.StatusCode != http.StatusOK {
			return nil
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if *offset >= len(body) {
			return fmt.Errorf("%s: %d bytes, no byte %d to alter", *path, len(body), *offset)
		}
		body[*offset] ^= 0x01
		log.Printf("tamperproxy: altered byte %d of %s", *offset, *path)
		resp.Body = io.NopCloser(bytes.NewReader(body))
		resp.ContentLength = int64(len(body))
		resp.Header.Set("Content-Length", strconv.Itoa(len(body)))
		resp.Header.Del("ETag")
		return nil
	}
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s\n", ln.Addr())
	os.Stdout.Sync()
	log.Fatal(http.Serve(ln, proxy))
}
