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
// Exit status 0 when every task's sequence is exactly STARTING, RUNNING,
// FINISHED; 1 otherwise or on timeout; 2 on bad usage.
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
}

func main() {
	master := flag.String("master", "http://127.0.0.1:5050", "master URL")
	codecName := flag.String("codec", "protobuf", "json or protobuf")
	taskCount := flag.Int("tasks", 3, "tasks to launch")
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
	resp, err := caller.Call(ctx, calls.Subscribe(info))
	if err != nil {
		fmt.Fprintf(os.Stderr, "compat-scheduler: SUBSCRIBE: %v\n", err)
		os.Exit(1)
	}
	defer resp.Close()

	var frameworkID string
	launched := 0
	logs := map[string]*taskLog{}
	done := func() bool {
		if launched < *taskCount {
			return false
		}
		for _, l := range logs {
			if len(l.states) == 0 || !terminal(l.states[len(l.states)-1]) {
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
				if launched >= *taskCount {
					if err := call(calls.Decline(offer.ID).With(calls.RefuseSeconds(time.Hour))); err != nil {
						return fmt.Errorf("DECLINE: %v", err)
					}
					continue
				}
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
				var tasks []mesos.TaskInfo
				for launched < *taskCount && cpus >= 0.1 && mem >= 32 {
					id := fmt.Sprintf("compat-%d", launched)
					launched++
					cpus -= 0.1
					mem -= 32
					shell := true
					cmd := "sleep 0.2"
					tasks = append(tasks, mesos.TaskInfo{
						Name:    id,
						TaskID:  mesos.TaskID{Value: id},
						AgentID: offer.AgentID,
						Command: &mesos.CommandInfo{Value: &cmd, Shell: &shell},
						Resources: []mesos.Resource{
							{Name: "cpus", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 0.1}, Role: offer.Resources[0].Role, AllocationInfo: offer.Resources[0].AllocationInfo},
							{Name: "mem", Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: 32}, Role: offer.Resources[0].Role, AllocationInfo: offer.Resources[0].AllocationInfo},
						},
					})
					logs[id] = &taskLog{}
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
			l := logs[id]
			if l == nil {
				l = &taskLog{}
				logs[id] = l
			}
			if uuid := st.GetUUID(); len(uuid) > 0 {
				seen := false
				for _, u := range l.uuids {
					if bytes.Equal(u, uuid) {
						seen = true
					}
				}
				if !seen {
					l.uuids = append(l.uuids, uuid)
					l.states = append(l.states, st.GetState())
				}
				agentID := st.GetAgentID().GetValue()
				if err := call(calls.Acknowledge(agentID, id, uuid)); err != nil {
					return fmt.Errorf("ACKNOWLEDGE: %v", err)
				}
			} else {
				l.states = append(l.states, st.GetState())
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

	ids := make([]string, 0, len(logs))
	for id := range logs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	want := []mesos.TaskState{mesos.TASK_STARTING, mesos.TASK_RUNNING, mesos.TASK_FINISHED}
	for _, id := range ids {
		l := logs[id]
		names := make([]string, len(l.states))
		for i, s := range l.states {
			names[i] = s.String()
		}
		fmt.Printf("task %s: %s\n", id, strings.Join(names, " "))
		if len(l.states) != len(want) {
			failed = true
			continue
		}
		for i := range want {
			if l.states[i] != want[i] {
				failed = true
			}
		}
	}
	if launched < *taskCount {
		fmt.Printf("launched %d of %d tasks\n", launched, *taskCount)
		failed = true
	}
	if failed {
		os.Exit(1)
	}
	fmt.Println("ok")
}

func terminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_LOST,
		mesos.TASK_ERROR, mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_UNKNOWN:
		return true
	}
	return false
}
