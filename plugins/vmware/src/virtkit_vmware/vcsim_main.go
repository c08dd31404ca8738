// vcsim-virtkit: govmomi's vSphere simulator on a loopback port, for virtkit-vmware's tests.
//
// Built in GOPATH mode against Debian's golang-github-vmware-govmomi-dev (GO111MODULE=off,
// GOPATH=/usr/share/gocode). Prints one line "READY <url>" on stdout once it serves, then runs
// until SIGTERM/SIGINT or until its stdin closes (so a dying parent never leaves it behind).
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io/ioutil"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/signal"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// slowTasks makes chosen task methods run the way real vSphere runs long tasks: the call
// returns a running Task at once; the task advances its progress over the given time, can be
// cancelled (CancelTask), and only then performs the simulator's own work. govmomi 0.24's
// simulator completes every task inside the call and has no CancelTask.
type slowTasks struct {
	inner   http.Handler
	methods map[string]time.Duration
	mu      sync.Mutex
	cancel  map[string]bool // task id -> cancel asked
}

var (
	methodRe = regexp.MustCompile(`<(?:[A-Za-z0-9]+:)?Body[^>]*>\s*<(?:[A-Za-z0-9]+:)?([A-Za-z_]+)[\s>]`)
	thisRe   = regexp.MustCompile(`<(?:[A-Za-z0-9]+:)?_this[^>]*type="([A-Za-z]+)"[^>]*>([^<]+)<`)
	retRe    = regexp.MustCompile(`<returnval[^>]*>([^<]+)</returnval>`)
)

const envelope = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body>%s</soapenv:Body></soapenv:Envelope>`

func (s *slowTasks) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost || !strings.HasSuffix(r.URL.Path, "/sdk") {
		s.inner.ServeHTTP(w, r)
		return
	}
	body, _ := ioutil.ReadAll(r.Body)
	r.Body = ioutil.NopCloser(bytes.NewReader(body))
	m := methodRe.FindSubmatch(body)
	this := thisRe.FindSubmatch(body)
	if m == nil || this == nil {
		s.inner.ServeHTTP(w, r)
		return
	}
	method := string(m[1])
	if method == "CancelTask" {
		s.mu.Lock()
		_, ours := s.cancel[string(this[2])]
		if ours {
			s.cancel[string(this[2])] = true
		}
		s.mu.Unlock()
		if ours {
			w.Header().Set("Content-Type", "text/xml; charset=utf-8")
			fmt.Fprintf(w, envelope, `<CancelTaskResponse xmlns="urn:vim25"></CancelTaskResponse>`)
			return
		}
	}
	duration, slow := s.methods[method]
	if !slow {
		s.inner.ServeHTTP(w, r)
		return
	}
	entity := types.ManagedObjectReference{Type: string(this[1]), Value: string(this[2])}
	name := strings.TrimSuffix(method, "_Task")
	name = strings.ToLower(name[:1]) + name[1:]
	header := r.Header.Clone()
	var task *simulator.Task
	task = simulator.CreateTask(entity, name, func(t *simulator.Task) (types.AnyType, types.BaseMethodFault) {
		id := t.Self.Value
		for step := 1; step <= 10; step++ {
			time.Sleep(duration / 10)
			s.mu.Lock()
			cancelled := s.cancel[id]
			s.mu.Unlock()
			if cancelled {
				return nil, &types.RequestCanceled{}
			}
			if step < 10 {
				simulator.Map.Update(t, []types.PropertyChange{{Name: "info.progress", Val: int32(step * 10)}})
			}
		}
		s.mu.Lock()
		s.cancel[id] = false
		delete(s.cancel, id)
		s.mu.Unlock()
		// now the simulator's own work, through its own handler
		req := httptest.NewRequest(http.MethodPost, "/sdk", bytes.NewReader(body))
		req.Header = header
		rec := httptest.NewRecorder()
		s.inner.ServeHTTP(rec, req)
		ret := retRe.FindSubmatch(rec.Body.Bytes())
		if ret == nil {
			return nil, &types.SystemError{Reason: "the simulator's own call failed: " + rec.Body.String()}
		}
		inner, ok := simulator.Map.Get(types.ManagedObjectReference{Type: "Task", Value: string(ret[1])}).(*simulator.Task)
		if !ok {
			return nil, &types.SystemError{Reason: "no inner task " + string(ret[1])}
		}
		if inner.Info.Error != nil {
			return nil, inner.Info.Error.Fault
		}
		return inner.Info.Result, nil
	})
	task.Info.Cancelable = true
	task.Info.State = types.TaskInfoStateRunning
	task.Info.Progress = 0
	s.mu.Lock()
	s.cancel[task.Self.Value] = false
	s.mu.Unlock()
	go task.Run()
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	fmt.Fprintf(w, envelope, fmt.Sprintf(`<%sResponse xmlns="urn:vim25"><returnval type="Task">%s</returnval></%sResponse>`, method, task.Self.Value, method))
}

func main() {
	model := flag.String("model", "esx", "esx (a standalone ESX host) or vpx (a vCenter)")
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	user := flag.String("username", "user", "the one accepted user name")
	pass := flag.String("password", "pass", "the one accepted password")
	vms := flag.Int("vm", -1, "virtual machines per resource pool (-1: the model's default)")
	ds := flag.Int("ds", -1, "datastores (-1: the model's default)")
	watchStdin := flag.Bool("stdin", true, "exit when stdin reaches end of file")
	slow := map[string]time.Duration{}
	flag.Func("slow", "METHOD=SECONDS: run METHOD's task over that time, cancellable (repeatable)",
		func(v string) error {
			parts := strings.SplitN(v, "=", 2)
			if len(parts) != 2 {
				return fmt.Errorf("expected METHOD=SECONDS, got %q", v)
			}
			secs, err := strconv.ParseFloat(parts[1], 64)
			if err != nil {
				return err
			}
			slow[parts[0]] = time.Duration(secs * float64(time.Second))
			return nil
		})
	delays := map[string]int{}
	flag.Func("delay", "METHOD=MILLISECONDS: serve METHOD that much later (repeatable)",
		func(v string) error {
			parts := strings.SplitN(v, "=", 2)
			if len(parts) != 2 {
				return fmt.Errorf("expected METHOD=MILLISECONDS, got %q", v)
			}
			ms, err := strconv.Atoi(parts[1])
			if err != nil {
				return err
			}
			delays[parts[0]] = ms
			return nil
		})
	flag.Parse()

	var m *simulator.Model
	switch *model {
	case "esx":
		m = simulator.ESX()
	case "vpx":
		m = simulator.VPX()
	default:
		fmt.Fprintf(os.Stderr, "unknown model %q (esx or vpx)\n", *model)
		os.Exit(2)
	}
	if *vms >= 0 {
		m.Machine = *vms
	}
	if *ds >= 0 {
		m.Datastore = *ds
	}
	if len(delays) > 0 {
		m.DelayConfig.MethodDelay = delays
	}
	// Keep the simulator quiet: its trace goes nowhere unless asked for.
	simulator.Trace = false

	if err := m.Create(); err != nil {
		fmt.Fprintf(os.Stderr, "create model: %v\n", err)
		os.Exit(1)
	}
	m.Service.Listen = &url.URL{Host: *listen, User: url.UserPassword(*user, *pass)}
	m.Service.RegisterEndpoints = true
	s := m.Service.NewServer()
	if len(slow) > 0 {
		// no request has arrived yet: READY is printed below
		s.Server.Config.Handler = &slowTasks{inner: s.Server.Config.Handler, methods: slow,
			cancel: map[string]bool{}}
	}
	u := *s.URL
	u.User = nil
	fmt.Printf("READY %s\n", u.String())
	os.Stdout.Sync()

	done := make(chan struct{}, 2)
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	go func() { <-sig; done <- struct{}{} }()
	if *watchStdin {
		go func() {
			r := bufio.NewReader(os.Stdin)
			_, _ = ioutil.ReadAll(r)
			done <- struct{}{}
		}()
	}
	<-done
	s.Close()
	m.Remove()
}
