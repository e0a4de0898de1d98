// Package deploy holds the packaging files (systemd/, kubernetes/) and, in its
// tests, the checks that keep them and the repository's Dockerfiles and
// compose files working: systemd-analyze verify and security for the unit,
// strict decoding into the Kubernetes API types for the manifests, and the
// healthcheck, ports, volumes and referenced paths of the Docker files.
package deploy
