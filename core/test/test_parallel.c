/* test_parallel.c -- ember's thread pool: every index run exactly once, on
** a thread below the count, nested calls inline, workers started and
** stopped with the count, a thread that cannot run has its share taken. */

#include <dirent.h>
#include <sched.h>
#include <stdatomic.h>
#include <time.h>

#include "test.h"

#define N_MAX 5000

typedef struct job {
  atomic_int hits[N_MAX];
  atomic_int bad_thread, by[8];
  int nthreads;
  const em_ctx *ctx;
  int nested;
} job;

static void mark(void *arg, int64_t i0, int64_t i1, int t) {
  job *j = arg;
  if (t < 0 || t >= j->nthreads) atomic_fetch_add(&j->bad_thread, 1);
  else atomic_fetch_add(&j->by[t], 1);
  for (int64_t i = i0; i < i1; i++) atomic_fetch_add(&j->hits[i], 1);
}

/* a job whose chunks each run a whole job of their own (it must run inline) */
static void outer(void *arg, int64_t i0, int64_t i1, int t) {
  job *j = arg;
  (void)t;
  for (int64_t i = i0; i < i1; i++) {
    job *inner = calloc(1, sizeof *inner);
    inner->nthreads = 1;   /* inline: thread 0 only */
    em_parallel(j->ctx, j->ctx->nthreads, 7, mark, inner);
    int ok = !atomic_load(&inner->bad_thread);
    for (int k = 0; k < 7; k++) ok = ok && atomic_load(&inner->hits[k]) == 1;
    if (ok) atomic_fetch_add(&j->hits[i], 1);
    free(inner);
  }
}

static int threads_now(void) {
  DIR *d = opendir("/proc/self/task");
  struct dirent *e;
  int n = 0;
  if (!d) return -1;
  while ((e = readdir(d))) n += e->d_name[0] != '.';
  closedir(d);
  return n;
}

static void sleep_ms(int ms) {
  struct timespec ts = { 0, ms * 1000000L };
  nanosleep(&ts, NULL);
}

/* The count once it is want, or after 2 s: a thread that pthread_join saw
** end can stay listed in /proc/self/task a moment longer (the kernel wakes
** the joiner before it reaps the thread), so a count that drops is polled. */
static int threads_reach(int want) {
  int n = threads_now();
  for (int i = 0; i < 2000 && n != want; i++) {
    sleep_ms(1);
    n = threads_now();
  }
  return n;
}

/* The process's threads before a test: the fewest seen over 50 ms, as the
** workers of an earlier test's context may still be leaving. */
static int threads_settled(void) {
  int n = threads_now();
  for (int i = 0; i < 50; i++) {
    sleep_ms(1);
    int m = threads_now();
    if (m < n) n = m;
  }
  return n;
}

static void test_every_index_once(void) {
  static const int64_t sizes[] = { 1, 2, 3, 5, 31, 64, 1000, N_MAX };
  em_ctx ctx;
  em_ctx_init(&ctx);
  for (int threads = 1; threads <= 4; threads++) {
    em_ctx_set_threads(&ctx, threads);
    CHECK(ctx.nthreads == threads);
    for (int nt = 0; nt <= 5; nt++)
      for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++)
        for (int rep = 0; rep < 20; rep++) {
          job *j = calloc(1, sizeof *j);
          j->nthreads = threads;
          em_parallel(&ctx, nt, sizes[s], mark, j);
          int once = 1;
          for (int64_t i = 0; i < sizes[s]; i++) once = once && atomic_load(&j->hits[i]) == 1;
          for (int64_t i = sizes[s]; i < N_MAX; i++) once = once && atomic_load(&j->hits[i]) == 0;
          CHECK(once);
          CHECK(atomic_load(&j->bad_thread) == 0);
          free(j);
        }
  }
  em_ctx_free(&ctx);
}

static void test_nested_inline(void) {
  em_ctx ctx;
  job *j = calloc(1, sizeof *j);
  em_ctx_init(&ctx);
  em_ctx_set_threads(&ctx, 2);
  j->ctx = &ctx;
  j->nthreads = 2;
  for (int rep = 0; rep < 50; rep++) em_parallel(&ctx, 2, 40, outer, j);
  for (int i = 0; i < 40; i++) CHECK(atomic_load(&j->hits[i]) == 50);
  free(j);
  em_ctx_free(&ctx);
}

/* Workers come and go with the count: the process has the caller's thread
** plus count - 1 of them, and none after em_ctx_free. */
static void test_workers_follow_count(void) {
  em_ctx ctx;
  int base = threads_settled();
  CHECK(base >= 1);
  em_ctx_init(&ctx);
  em_ctx_set_threads(&ctx, 4);
  CHECK(threads_reach(base + 3) == base + 3);
  em_ctx_set_threads(&ctx, 2);
  CHECK(threads_reach(base + 1) == base + 1);
  em_ctx_set_threads(&ctx, 1);
  CHECK(ctx.pool == NULL);
  CHECK(threads_reach(base) == base);
  em_ctx_set_threads(&ctx, 3);
  CHECK(threads_reach(base + 2) == base + 2);
  em_ctx_free(&ctx);
  CHECK(threads_reach(base) == base);
  CHECK(ctx.nthreads == 1);
  em_ctx_set_threads(&ctx, 100);   /* capped */
  CHECK(ctx.nthreads == 32);
  em_ctx_free(&ctx);
}

/* Both threads on one core: the worker rarely gets it while the caller
** runs, so the caller takes the worker's share instead of waiting for it
** (OpenMP's static split waited: each job then took a scheduler slice). */
static void test_share_taken(void) {
  cpu_set_t all, one;
  em_ctx ctx;
  int stolen = 0, jobs = 2000;
  if (sched_getaffinity(0, sizeof all, &all) != 0) return;
  CPU_ZERO(&one);
  for (int c = 0; c < CPU_SETSIZE; c++)
    if (CPU_ISSET(c, &all)) {
      CPU_SET(c, &one);
      break;
    }
  CHECK(sched_setaffinity(0, sizeof one, &one) == 0);
  CHECK(em_ncores() == 1);   /* the cores it may run on */
  em_ctx_init(&ctx);
  CHECK(ctx.nthreads == 1);
  em_ctx_set_threads(&ctx, 2);   /* its worker inherits the one core */
  for (int r = 0; r < jobs; r++) {
    job *j = calloc(1, sizeof *j);
    j->nthreads = 2;
    em_parallel(&ctx, 2, 2, mark, j);
    CHECK(atomic_load(&j->hits[0]) == 1 && atomic_load(&j->hits[1]) == 1);
    stolen += atomic_load(&j->by[0]) == 2;
    free(j);
  }
  em_ctx_free(&ctx);
  CHECK(sched_setaffinity(0, sizeof all, &all) == 0);
  printf("  one core: the caller ran both chunks of %d of %d jobs\n", stolen, jobs);
  CHECK(stolen > jobs / 2);
}

int main(void) {
  TEST_RUN(test_every_index_once);
  TEST_RUN(test_nested_inline);
  TEST_RUN(test_workers_follow_count);
  TEST_RUN(test_share_taken);
  TEST_REPORT();
}
