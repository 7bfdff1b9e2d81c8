

rootmesosgo-sched2*