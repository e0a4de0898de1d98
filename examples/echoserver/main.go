// Command echoserver is a tiny SOAP endpoint for trying authsvc's proxy mode:
// it answers every SOAP 1.1 or 1.2 request with an EchoResponse that names the
// identity authsvc passed in the X-Authenticated-* headers.
//
//	go run ./examples/echoserver -listen 127.0.0.1:9000
package main

import (
	"bytes"
	"encoding/xml"
	"flag"
	"io"
	"log"
	"net/http"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:9000", "address to listen on")
	flag.Parse()
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 10<<20))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ns, ct := "http://schemas.xmlsoap.org/soap/envelope/", "text/xml; charset=utf-8"
		if bytes.Contains(body, []byte("http://www.w3.org/2003/05/soap-envelope")) {
			ns, ct = "http://www.w3.org/2003/05/soap-envelope", "application/soap+xml; charset=utf-8"
		}
		var who bytes.Buffer
		xml.EscapeText(&who, []byte(r.Header.Get("X-Authenticated-Principal")+" groups="+r.Header.Get("X-Authenticated-Groups")+
			" method="+r.Header.Get("X-Authenticated-Method")))
		w.Header().Set("Content-Type", ct)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="`+ns+`"><s:Body>`+
			`<e:EchoResponse xmlns:e="urn:example:echo"><e:text>`+who.String()+`</e:text></e:EchoResponse></s:Body></s:Envelope>`)
	})
	srv := &http.Server{Addr: *listen, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	log.Printf("echoserver listening on %s", *listen)
	log.Fatal(srv.ListenAndServe())
}
