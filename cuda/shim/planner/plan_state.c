#include <string.h>

#include "shim/planner/paged_table.h"
#include "shim/planner/plan_state.h"
#include "shim/planner/schedule.h"

void pod_plan_state_free(pod_plan_state* p) {
  for (int side = 0; side < 2; side++) {
    pod_table_free(&p->table[side]);
    pod_schedule_free(&p->sched[side]);
  }
  memset(p, 0, sizeof *p);
}
