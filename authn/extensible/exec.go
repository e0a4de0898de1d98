package extensible

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/authsvc/authsvc/authn"
)

// ExecConfig configures an exec module; it is also the configuration
// section of type exec, whose YAML keys are on its fields. The JSON contract
// is in docs/extensible.md.
//
//   - name: tickets
//     type: exec
//     flag: sufficient
//     command: [/usr/local/bin/check-ticket, --realm, EXAMPLE]   # argv; no shell
//     persistent: false        # true: one long-lived process, one JSON line each way
//     timeout: 5s
//     max_concurrency: 4
//     max_output_bytes: 65536
//     env: [TICKET_DB=/var/lib/tickets]   # PATH is inherited, nothing else
//     dir: /var/lib/tickets
//     headers: [X-Api-Key]     # request headers to send
//     send_passwords: false    # UsernameToken passwords are blanked out unless true
//     method: Ticket           # Subject method when the answer names none
type ExecConfig struct {
	// Command is the program and its arguments. It runs directly, never
	// through a shell, and no part of a request is ever put into it: the
	// request travels on stdin only.
	Command []string `yaml:"command"`
	// Persistent runs one long-lived process that reads one document per
	// line on stdin and writes one answer per line on stdout, in order, each
	// with the document's request_id. Requests then go to it one at a time.
	// Otherwise a process runs per authentication: it reads one document on
	// stdin and writes one answer on stdout before it exits with status 0.
	Persistent bool `yaml:"persistent"`
	// Timeout bounds one authentication, waiting for a free slot included
	// (default 5 s).
	Timeout time.Duration `yaml:"timeout"`
	// MaxConcurrency bounds the processes running at once (default 4).
	MaxConcurrency int `yaml:"max_concurrency"`
	// MaxOutputBytes bounds an answer (default 64 KiB).
	MaxOutputBytes int `yaml:"max_output_bytes"`
	// Env is the program's environment ("KEY=value"); PATH is inherited
	// unless set here, nothing else is.
	Env []string `yaml:"env"`
	// Dir is the working directory (default the service's).
	Dir string `yaml:"dir"`
	// Document chooses what the program is sent.
	Document DocumentOptions `yaml:",inline"`
	// Method is the Subject's Method when the answer names none
	// (default "Exec").
	Method string       `yaml:"method"`
	Logger *slog.Logger `yaml:"-"`
}

// Exec is a login module that asks a program.
type Exec struct {
	c    ExecConfig
	sem  chan struct{}
	log  *slog.Logger
	mu   sync.Mutex // guards p and closed
	p    *proc
	done bool
}

// NewExec checks the configuration and returns the module. The program of
// a persistent module starts at the first authentication.
func NewExec(c ExecConfig) (*Exec, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("extensible: exec: %w", err)
	}
	if c.Timeout == 0 {
		c.Timeout = 5 * time.Second
	}
	if c.MaxConcurrency == 0 {
		c.MaxConcurrency = 4
	}
	if c.Persistent {
		c.MaxConcurrency = 1
	}
	if c.MaxOutputBytes == 0 {
		c.MaxOutputBytes = 64 << 10
	}
	if c.Method == "" {
		c.Method = "Exec"
	}
	hasPath := false
	for _, kv := range c.Env {
		hasPath = hasPath || strings.HasPrefix(kv, "PATH=")
	}
	env := append([]string{}, c.Env...)
	if !hasPath {
		env = append(env, "PATH="+os.Getenv("PATH"))
	}
	c.Env = env
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return &Exec{c: c, sem: make(chan struct{}, c.MaxConcurrency), log: c.Logger}, nil
}

// Login implements authn.Module.
func (e *Exec) Login(ctx context.Context, req *authn.Request, s *authn.Subject) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, e.c.Timeout)
	defer cancel()
	doc, err := json.Marshal(NewDocument(req, e.c.Document))
	if err != nil {
		return false, e.fail(req, fmt.Errorf("encoding the document: %w", err))
	}
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return false, e.fail(req, fmt.Errorf("no free slot before the deadline (max_concurrency %d)", e.c.MaxConcurrency))
	}
	defer func() { <-e.sem }()
	var out []byte
	if e.c.Persistent {
		out, err = e.ask(ctx, req.ID, doc)
	} else {
		out, err = e.run(ctx, doc)
	}
	if err != nil {
		return false, e.fail(req, err)
	}
	a, err := ParseAnswer(out, req.ID)
	if err != nil {
		return false, e.fail(req, err)
	}
	if e.c.Persistent && a.RequestID != req.ID {
		return false, e.fail(req, fmt.Errorf("%w: a long-lived program must echo request_id", ErrBadAnswer))
	}
	if err := a.MarkProcessed(req); err != nil {
		return false, e.fail(req, err)
	}
	return a.Apply(s, e.c.Method)
}

// fail logs a technical failure and returns it as one: the chain fails
// closed and the client hears "try again later".
func (e *Exec) fail(req *authn.Request, err error) error {
	e.log.Error("exec module failed; failing closed", "request_id", req.ID, "command", e.c.Command[0], "error", err.Error())
	return fmt.Errorf("%w: exec %s: %w", authn.ErrUnavailable, e.c.Command[0], err)
}

// capped keeps the first max bytes written to it and fails after that.
type capped struct {
	buf  bytes.Buffer
	max  int
	over bool
}

var errTooMuch = errors.New("output too large")

func (c *capped) Write(p []byte) (int, error) {
	if c.buf.Len()+len(p) > c.max {
		c.over = true
		c.buf.Write(p[:c.max-c.buf.Len()])
		return 0, errTooMuch
	}
	return c.buf.Write(p)
}

func (e *Exec) command() *exec.Cmd {
	cmd := exec.Command(e.c.Command[0], e.c.Command[1:]...)
	cmd.Env = e.c.Env
	cmd.Dir = e.c.Dir
	// Its own process group, so that a timeout kills what it started too.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	return cmd
}

func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}

// run starts a process for one document.
func (e *Exec) run(ctx context.Context, doc []byte) ([]byte, error) {
	cmd := e.command()
	cmd.Stdin = bytes.NewReader(append(doc, '\n'))
	stdout := &capped{max: e.c.MaxOutputBytes}
	stderr := &capped{max: 4 << 10}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	cmd.WaitDelay = time.Second
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start: %w", err)
	}
	waitc := make(chan error, 1)
	go func() { waitc <- cmd.Wait() }()
	var err error
	select {
	case err = <-waitc:
	case <-ctx.Done():
		killGroup(cmd)
		<-waitc
		return nil, fmt.Errorf("no answer within %s; killed", e.c.Timeout)
	}
	if stdout.over {
		killGroup(cmd)
		return nil, fmt.Errorf("answer larger than %d bytes", e.c.MaxOutputBytes)
	}
	if err != nil {
		return nil, fmt.Errorf("%w (stderr: %q)", err, tail(stderr.buf.String(), 512))
	}
	return stdout.buf.Bytes(), nil
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}

// proc is the long-lived process of a persistent module.
type proc struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *bufio.Reader
	// outR is the read end of the program's stdout. It is ours, not
	// os/exec's: cmd.Wait closes the pipes that StdoutPipe makes, and a
	// program that answers and exits at once could have its answer
	// discarded before ask read it. outR is closed when the process is
	// dropped or replaced (persistent modules ask one request at a time).
	outR *os.File
	exit chan struct{}
}

// ask sends one document to the long-lived process and reads its answer.
// A process that times out, writes a line that is too long, or dies is
// killed, and the next request starts a new one.
func (e *Exec) ask(ctx context.Context, id string, doc []byte) ([]byte, error) {
	p, err := e.proc()
	if err != nil {
		return nil, err
	}
	type res struct {
		line []byte
		err  error
	}
	rc := make(chan res, 1)
	go func() {
		if _, err := p.stdin.Write(append(doc, '\n')); err != nil {
			rc <- res{err: fmt.Errorf("writing to the program: %w", err)}
			return
		}
		line, err := p.out.ReadSlice('\n')
		switch {
		case errors.Is(err, bufio.ErrBufferFull):
			err = fmt.Errorf("answer line longer than %d bytes", e.c.MaxOutputBytes)
		case err != nil:
			err = fmt.Errorf("reading the answer: %w (the program exited?)", err)
		}
		rc <- res{bytes.Clone(line), err}
	}()
	select {
	case r := <-rc:
		if r.err != nil {
			e.drop(p)
			return nil, r.err
		}
		return r.line, nil
	case <-ctx.Done():
		e.drop(p)
		<-rc // the kill ends the read
		return nil, fmt.Errorf("no answer within %s; killed", e.c.Timeout)
	}
}

func (e *Exec) proc() (*proc, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return nil, errors.New("module closed")
	}
	if e.p != nil {
		select {
		case <-e.p.exit:
			e.p.outR.Close()
			e.p = nil
		default:
			return e.p, nil
		}
	}
	cmd := e.command()
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	outR, outW, err := os.Pipe()
	if err != nil {
		stdin.Close()
		return nil, err
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		stdin.Close()
		outR.Close()
		outW.Close()
		return nil, err
	}
	cmd.Stdout = outW
	if err := cmd.Start(); err != nil {
		outR.Close()
		outW.Close()
		return nil, fmt.Errorf("start: %w", err)
	}
	outW.Close() // the child has its copy; EOF comes when it exits
	p := &proc{cmd: cmd, stdin: stdin, out: bufio.NewReaderSize(outR, e.c.MaxOutputBytes), outR: outR, exit: make(chan struct{})}
	go func() {
		// The program's stderr goes to our log, a bounded line at a time.
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 0, 1024), 4<<10)
		for sc.Scan() {
			e.log.Warn("exec program stderr", "command", e.c.Command[0], "line", sc.Text())
		}
		io.Copy(io.Discard, stderr)
	}()
	go func() {
		err := cmd.Wait()
		e.log.Warn("exec program exited", "command", e.c.Command[0], "pid", cmd.Process.Pid, "status", fmt.Sprint(err))
		close(p.exit)
	}()
	e.log.Info("exec program started", "command", e.c.Command[0], "pid", cmd.Process.Pid)
	e.p = p
	return p, nil
}

// drop kills a long-lived process that misbehaved.
func (e *Exec) drop(p *proc) {
	killGroup(p.cmd)
	p.stdin.Close()
	p.outR.Close()
	e.mu.Lock()
	if e.p == p {
		e.p = nil
	}
	e.mu.Unlock()
}

// Close stops the long-lived process: it closes its stdin, and kills it
// after the timeout.
func (e *Exec) Close() error {
	e.mu.Lock()
	p := e.p
	e.p, e.done = nil, true
	e.mu.Unlock()
	if p == nil {
		return nil
	}
	p.stdin.Close()
	select {
	case <-p.exit:
	case <-time.After(e.c.Timeout):
		killGroup(p.cmd)
		<-p.exit
	}
	p.outR.Close()
	return nil
}

var _ authn.Module = (*Exec)(nil)
var _ io.Closer = (*Exec)(nil)
