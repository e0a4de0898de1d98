# authsvc and the example SOAP upstream, from the repository root:
#
#   docker build -t authsvc .                       # the service
#   docker build --target echoserver -t authsvc-echo .
#
# Base images are pinned to exact version tags (Go 1.26.8, Debian 12.11).
# They are not pinned by digest: the project's machines cannot reach a
# registry to learn one. Pin by digest in your own build
# (docker buildx imagetools inspect golang:1.26.8-bookworm).
#
# No Docker engine runs on the project's own machines: deploy/docker_test.go
# checks this file (pinned tags, non-root user, a HEALTHCHECK that names a
# real subcommand of the binary); the native path (README) is the tested one.
FROM golang:1.26.8-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/authsvc ./cmd/authsvc \
 && CGO_ENABLED=0 go build -trimpath -o /out/echoserver ./examples/echoserver

FROM debian:12.11-slim AS echoserver
COPY --from=build /out/echoserver /usr/local/bin/echoserver
USER 65534:65534
ENTRYPOINT ["/usr/local/bin/echoserver", "-listen", "0.0.0.0:9000"]

FROM debian:12.11-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/authsvc /usr/local/bin/authsvc
USER 65534:65534
EXPOSE 8080
# The healthcheck subcommand asks the running instance's /readyz (address
# from the same config) and exits 0 when it is ready, 1 when it is not.
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/authsvc", "healthcheck", "-config", "/etc/authsvc/authsvc.yaml"]
ENTRYPOINT ["/usr/local/bin/authsvc"]
CMD ["serve", "-config", "/etc/authsvc/authsvc.yaml"]
