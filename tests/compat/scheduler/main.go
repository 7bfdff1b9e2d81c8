// tests/compat/scheduler/main.go — a small Mesos v1 framework built against
// Debian's mesos-go (offline, GOPATH mode), used to prove that an unmodified
// mesos-go scheduler runs against `dromos master`. It uses mesos-go's
// httpsched caller (which captures Mesos-Stream-Id and follows redirects),
// its calls constructors and its events handlers, with the JSON or protobuf
// codec from encoding/codecs: no hand-built requests or headers.
//
// It subscribes, launches -tasks tasks from the offers it gets (declining the
// rest), acknowledges every update that carries a uuid, and prints one line
// per task with the states it received (duplicates of an update, same uuid,
// counted once):
//
//	task compat-0: TASK_STARTING TASK_RUNNING TASK_FINISHED
//
// Without -executor the tasks are shell commands for the agent's command
// executor, and each must get exactly STARTING, RUNNING, FINISHED.
//
// With -executor PATH they run in the framework's own executor, the mesos-go
// executor of tests/compat/executor (ExecutorInfo with a CommandInfo that
// runs PATH -codec <codec>), all in one offer:
//
//	compat-0 .. compat-<n-1>  executor compat-exec, data "finish":
//	                          STARTING, RUNNING, FINISHED with data "done:<id>"
//	compat-kill               executor compat-exec, data "wait": once RUNNING
//	                          the scheduler sends MESSAGE "ping" to the
//	                          executor; on its MESSAGE "pong:ping" it sends
//	                          KILL: STARTING, RUNNING, KILLED
//	compat-shutdown           executor compat-exec-2, data "wait": once
//	                          RUNNING the scheduler sends SHUTDOWN for the
//	                          executor: STARTING, RUNNING, KILLED
//
// and at the end it sends TEARDOWN, so the agent shuts compat-exec down too.
//
// With -executor PATH -recover the framework checkpoints and launches one
// task, compat-recover (executor compat-exec-r, data "reconnect"): once it
// is RUNNING the test restarts the agent (SIGKILL, start); the executor
// re-subscribes and finishes it: STARTING, RUNNING, FINISHED with data
// "reconnected:compat-recover".
//
// Every new update is printed as it comes ("update compat-0: TASK_RUNNING
// \"\""), so that a test can act on it.
//
// Exit status 0 when every task's sequence is exactly the one expected (and,
// with -executor, the pong came back); 1 otherwise or on timeout; 2 on bad
// usage.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"sort"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding/codecs"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli"
	"github.com/mesos/mesos-go/api/v1/lib/httpcli/httpsched"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/events"
)

type taskLog struct {
	states []mesos.TaskState
	uuids  [][]byte
	data   []byte // of the latest update
}

const (
	execMain     = "compat-exec"
	execShutdown = "compat-exec-2"
	execRecover  = "compat-exec-r"
	taskRecover  = "compat-recover"
	taskKill     = "compat-kill"
	taskShutdown = "compat-shutdown"
)

func main() {
	master := flag.String("master", "http://127.0.0.1:5050", "master URL")
	codecName := flag.String("codec", "protobuf", "json or protobuf")
	taskCount := flag.Int("tasks", 3, "tasks to launch")
	executorPath := flag.String("executor", "", "run the tasks in this mesos-go executor")
	recoverMode := flag.Bool("recover", false, "with -executor: one task that outlives an agent restart")
	timeout := flag.Duration("timeout", 60*time.Second, "give up after this long")
	flag.Parse()

	mediaType := codecs.MediaTypeProtobuf
	switch *codecName {
	case "protobuf":
	case "json":
		mediaType = codecs.MediaTypeJSON
	default:
		fmt.Fprintf(os.Stderr, "compat-scheduler: -codec %q: expected json or protobuf\n", *codecName)
		os.Exit(2)
	}
	if *recoverMode && *executorPath == "" {
		fmt.Fprintln(os.Stderr, "compat-scheduler: -recover needs -executor")
		os.Exit(2)
	}
	if *taskCount < 1 {
		fmt.Fprintf(os.Stderr, "compat-scheduler: -tasks %d: expected at least 1\n", *taskCount)
		os.Exit(2)
	}

	// The expected sequence of each task, by id.
	finished := []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED}
	killed := []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_KILLED}
	want := map[string][]mesos.TaskState{}
	wantData := map[string]string{}
	switch {
	case *recoverMode:
		want[taskRecover] = finished
		wantData[taskRecover] = "reconnected:" + taskRecover
	default:
		for i := 0; i < *taskCount; i++ {
			id := fmt.Sprintf("compat-%d", i)
			want[id] = finished
			if *executorPath != "" {
				wantData[id] = "done:" + id
			}
		}
		if *executorPath != "" {
			want[taskKill] = killed
			want[taskShutdown] = killed
		}
	}

	caller := httpsched.NewCaller(httpcli.New(
		httpcli.Endpoint(strings.TrimRight(*master, "/")+"/api/v1/scheduler"),
		httpcli.Codec(codecs.ByMediaType[mediaType]),
		httpcli.Do(httpcli.With(httpcli.Timeout(*timeout))),
	))

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()

	user := "root"
	name := "dromos-compat-" + *codecName
	info := &mesos.FrameworkInfo{User: user, Name: name}
	if *recoverMode {
		checkpoint := true
		info.Checkpoint = &checkpoint
	}
	resp, err := caller.Call(ctx, calls.Subscribe(info))
	if err != nil {
		fmt.Fprintf(os.Stderr, "compat-scheduler: SUBSCRIBE: %v\n", err)
		os.Exit(1)
	}
	defer resp.Close()

	var frameworkID string
	launched := false
	pong := false
	logs := map[string]*taskLog{}
	done := func() bool {
		if !launched || (*executorPath != "" && !*recoverMode && !pong) {
			return false
		}
		for id := range want {
			l := logs[id]
			if l == nil || len(l.states) == 0 || !terminal(l.states[len(l.states)-1]) {
				return false
			}
		}
		return true
	}
	call := func(c *scheduler.Call) error {
		return calls.CallNoData(ctx, caller, c.With(calls.Framework(frameworkID)))
	}

	handler := events.HandlerFuncs{
		scheduler.Event_SUBSCRIBED: func(ctx context.Context, e *scheduler.Event) error {
			frameworkID = e.GetSubscribed().GetFrameworkID().GetValue()
			fmt.Printf("subscribed as %s (%s)\n", frameworkID, *codecName)
			return nil
		},
		scheduler.Event_OFFERS: func(ctx context.Context, e *scheduler.Event) error {
			for _, offer := range e.GetOffers().GetOffers() {
				var tasks []mesos.TaskInfo
				if !launched {
					tasks = buildTasks(&offer, *taskCount, *executorPath, *codecName, *recoverMode)
				}
				if tasks == nil {
					if err := call(calls.Decline(offer.ID).With(calls.RefuseSeconds(time.Hour))); err != nil {
						return fmt.Errorf("DECLINE: %v", err)
					}
					continue
				}
				launched = true
				for _, t := range tasks {
					logs[t.TaskID.Value] = &taskLog{}
				}
				accept := calls.Accept(calls.OfferOperations{calls.OpLaunch(tasks...)}.WithOffers(offer.ID))
				if err := call(accept.With(calls.RefuseSeconds(time.Second))); err != nil {
					return fmt.Errorf("ACCEPT: %v", err)
				}
			}
			return nil
		},
		scheduler.Event_UPDATE: func(ctx context.Context, e *scheduler.Event) error {
			st := e.GetUpdate().GetStatus()
			id := st.TaskID.Value
			agentID := st.GetAgentID().GetValue()
			l := logs[id]
			if l == nil {
				l = &taskLog{}
				logs[id] = l
			}
			fresh := true
			if uuid := st.GetUUID(); len(uuid) > 0 {
				for _, u := range l.uuids {
					if bytes.Equal(u, uuid) {
						fresh = false
					}
				}
				if fresh {
					l.uuids = append(l.uuids, uuid)
				}
			}
			if fresh {
				l.states = append(l.states, st.GetState())
				l.data = st.Data
				fmt.Printf("update %s: %s %q\n", id, st.GetState(), st.GetMessage())
			}
			if uuid := st.GetUUID(); len(uuid) > 0 {
				if err := call(calls.Acknowledge(agentID, id, uuid)); err != nil {
					return fmt.Errorf("ACKNOWLEDGE: %v", err)
				}
			}
			if !fresh || st.GetState() != mesos.TASK_RUNNING || *executorPath == "" {
				return nil
			}
			switch id {
			case taskKill: // ping the executor; the pong triggers the KILL
				if err := call(calls.Message(agentID, execMain, []byte("ping"))); err != nil {
					return fmt.Errorf("MESSAGE: %v", err)
				}
			case taskShutdown:
				if err := call(calls.Shutdown(execShutdown, agentID)); err != nil {
					return fmt.Errorf("SHUTDOWN: %v", err)
				}
			}
			return nil
		},
		scheduler.Event_MESSAGE: func(ctx context.Context, e *scheduler.Event) error {
			m := e.GetMessage()
			fmt.Printf("message from executor %s: %q\n", m.ExecutorID.Value, m.Data)
			if m.ExecutorID.Value != execMain || string(m.Data) != "pong:ping" || pong {
				return fmt.Errorf("unexpected MESSAGE %q from executor %s", m.Data, m.ExecutorID.Value)
			}
			pong = true
			if err := call(calls.Kill(taskKill, m.AgentID.Value)); err != nil {
				return fmt.Errorf("KILL: %v", err)
			}
			return nil
		},
		scheduler.Event_ERROR: func(ctx context.Context, e *scheduler.Event) error {
			return fmt.Errorf("ERROR event: %s", e.GetError().GetMessage())
		},
	}

	failed := false
	for !done() {
		var e scheduler.Event
		if err := resp.Decode(&e); err != nil {
			fmt.Fprintf(os.Stderr, "compat-scheduler: event stream: %v\n", err)
			failed = true
			break
		}
		if err := handler.HandleEvent(ctx, &e); err != nil {
			fmt.Fprintf(os.Stderr, "compat-scheduler: %v\n", err)
			failed = true
			break
		}
	}
	if frameworkID != "" && *executorPath != "" {
		// The agent shuts the framework's executors down.
		if err := call(&scheduler.Call{Type: scheduler.Call_TEARDOWN}); err != nil {
			fmt.Fprintf(os.Stderr, "compat-scheduler: TEARDOWN: %v\n", err)
			failed = true
		}
	}

	ids := make([]string, 0, len(logs))
	for id := range logs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		l := logs[id]
		names := make([]string, len(l.states))
		for i, s := range l.states {
			names[i] = s.String()
		}
		fmt.Printf("task %s: %s\n", id, strings.Join(names, " "))
		if !sameStates(l.states, want[id]) {
			failed = true
		}
		if d, ok := wantData[id]; ok && string(l.data) != d {
			fmt.Printf("task %s: data %q, want %q\n", id, l.data, d)
			failed = true
		}
	}
	for id := range want {
		if logs[id] == nil {
			fmt.Printf("task %s: never launched\n", id)
			failed = true
		}
	}
	if *executorPath != "" && !*recoverMode && !pong {
		fmt.Println("no pong from the executor")
		failed = true
	}
	if failed {
		os.Exit(1)
	}
	fmt.Println("ok")
}

// buildTasks returns the tasks to launch on offer, or nil when it is too small.
func buildTasks(offer *mesos.Offer, count int, executorPath, codec string, recoverMode bool) []mesos.TaskInfo {
	cpus, mem := 0.0, 0.0
	for _, r := range offer.Resources {
		if r.GetScalar() == nil {
			continue
		}
		switch r.Name {
		case "cpus":
			cpus += r.GetScalar().GetValue()
		case "mem":
			mem += r.GetScalar().GetValue()
		}
	}
	// Resources carry the offer's role and allocation info.
	res := func(c, m float64) []mesos.Resource {
		return []mesos.Resource{
			{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: c}, Role: offer.Resources[0].Role, AllocationInfo: offer.Resources[0].AllocationInfo},
			{Name: "mem", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: m}, Role: offer.Resources[0].Role, AllocationInfo: offer.Resources[0].AllocationInfo},
		}
	}
	task := func(id string) mesos.TaskInfo {
		return mesos.TaskInfo{Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: offer.AgentID, Resources: res(0.1, 32)}
	}
	if executorPath == "" {
		if cpus < 0.1*float64(count) || mem < 32*float64(count) {
			return nil
		}
		tasks := make([]mesos.TaskInfo, 0, count)
		for i := 0; i < count; i++ {
			t := task(fmt.Sprintf("compat-%d", i))
			shell := true
			cmd := "sleep 0.2"
			t.Command = &mesos.CommandInfo{Value: &cmd, Shell: &shell}
			tasks = append(tasks, t)
		}
		return tasks
	}

	executor := func(id string) *mesos.ExecutorInfo {
		shell := false
		return &mesos.ExecutorInfo{
			ExecutorID: mesos.ExecutorID{Value: id},
			Name:       &id,
			Command: &mesos.CommandInfo{
				Value:     &executorPath,
				Shell:     &shell,
				Arguments: []string{executorPath, "-codec", codec},
			},
			Resources: res(0.1, 32),
		}
	}
	if recoverMode {
		if cpus < 0.2 || mem < 64 {
			return nil
		}
		t := task(taskRecover)
		t.Executor = executor(execRecover)
		t.Data = []byte("reconnect")
		return []mesos.TaskInfo{t}
	}
	// Two executors (0.1 cpus, 32 MB each) and count+2 tasks.
	if cpus < 0.1*float64(count+4) || mem < 32*float64(count+4) {
		return nil
	}
	main, second := executor(execMain), executor(execShutdown)
	tasks := make([]mesos.TaskInfo, 0, count+2)
	for i := 0; i < count; i++ {
		t := task(fmt.Sprintf("compat-%d", i))
		t.Executor = main
		t.Data = []byte("finish")
		tasks = append(tasks, t)
	}
	t := task(taskKill)
	t.Executor = main
	t.Data = []byte("wait")
	tasks = append(tasks, t)
	t = task(taskShutdown)
	t.Executor = second
	t.Data = []byte("wait")
	return append(tasks, t)
}

func sameStates(got, want []mesos.TaskState) bool {
	if len(got) != len(want) {
		return false
	}
	for i := range want {
		if got[i] != want[i] {
			return false
		}
	}
	return true
}

func terminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_LOST,
		mesos.TASK_ERROR, mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_UNKNOWN:
		return true
	}
	return false
}
