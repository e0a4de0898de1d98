# authsvc and the example SOAP upstream, from the repository root:
#
#   docker build -t authsvc .                       # the service
#   docker build --target echoserver -t authsvc-echo .
#
# No Docker engine runs on the project's own machines: this file is kept
# simple, and the native path (README) is the tested one.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/authsvc ./cmd/authsvc \
 && CGO_ENABLED=0 go build -trimpath -o /out/echoserver ./examples/echoserver

FROM debian:bookworm-slim AS echoserver
COPY --from=build /out/echoserver /usr/local/bin/echoserver
USER 65534
ENTRYPOINT ["/usr/local/bin/echoserver", "-listen", "0.0.0.0:9000"]

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/authsvc /usr/local/bin/authsvc
USER 65534
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/authsvc"]
CMD ["serve", "-config", "/etc/authsvc/authsvc.yaml"]
