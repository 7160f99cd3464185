/* parallel.c -- the execution context and ember's own thread pool.
** A job's range is cut into a share per thread; a thread runs its own, then
** takes any share another thread has not started. */

#include <pthread.h>
#include <sched.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ember.h"

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define RELAX() _mm_pause()
#elif defined(__aarch64__)
#define RELAX() __asm__ __volatile__("yield")
#else
#define RELAX() ((void)0)
#endif

/* Each thread owns up to PER chunks of a job, on its own cache line: it
** takes them front first, and when done takes what is left of the others'
** from their back. On a shared machine the thread that keeps its core so
** runs the other's unstarted share, where OpenMP's static split made every
** layer wait for the slower core; on a quiet one the claims stay on each
** core's own line. One chunk each measured best (2026-11-29, 2 threads:
** two cost 1-3% on quiet minutes, more products' column slices packing B,
** and were no faster beside a busy process). */
#define MAX_THREADS 32
#ifndef PER
#define PER 1
#endif
#define MAX_CHUNKS (MAX_THREADS * PER)
/* A worker spins this long for the next job (a forward's layers follow each
** other within microseconds), then sleeps until woken. */
#ifndef SPIN_NS
#define SPIN_NS 50000
#endif

typedef struct slot {
  alignas(64) _Atomic uint32_t left;   /* its chunks not taken: first | end << 16 */
  atomic_uint done;                    /* chunks it ever finished (it alone writes) */
  struct em_pool *pool;
  int t;
  pthread_t th;
} slot;

struct em_pool {
  alignas(64) atomic_uint job;   /* number of the latest job: workers wait for it to change */
  /* the job, written before its chunks are handed out */
  alignas(64) em_task fn;
  void *arg;
  int64_t lo[MAX_CHUNKS + 1];    /* thread t's chunk i is [lo[t * PER + i], lo[t * PER + i + 1]) */
  atomic_int busy;               /* a job runs: a call from inside it runs inline */
  atomic_int sleepers, quit;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int n;                         /* threads: the caller (slot 0) and n - 1 workers */
  slot s[];
};

/* Takes chunk `front` (or the back one) of slot s; -1 when none is left. */
static int take(struct em_pool *p, int s, int front) {
  _Atomic uint32_t *left = &p->s[s].left;
  uint32_t v = atomic_load_explicit(left, memory_order_acquire);
  for (;;) {
    uint32_t first = v & 0xFFFF, end = v >> 16;
    if (first >= end) return -1;
    uint32_t to = front ? v + 1 : (end - 1) << 16 | first;
    if (atomic_compare_exchange_weak_explicit(left, &v, to, memory_order_acq_rel,
                                              memory_order_acquire))
      return s * PER + (int)(front ? first : end - 1);
  }
}

static void run(struct em_pool *p, int c, int t) {
  atomic_uint *done = &p->s[t].done;
  p->fn(p->arg, p->lo[c], p->lo[c + 1], t);
  atomic_store_explicit(done, atomic_load_explicit(done, memory_order_relaxed) + 1,
                        memory_order_release);
}

/* Thread t's share of the current job: its own chunks, then the others'. */
static void run_chunks(struct em_pool *p, int t) {
  int c;
  while ((c = take(p, t, 1)) >= 0) run(p, c, t);
  for (int i = 1; i < p->n; i++)
    while ((c = take(p, (t + i) % p->n, 0)) >= 0) run(p, c, t);
}

static int64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Waits for a job after `seen`: spins SPIN_NS, then sleeps on the condition. */
static unsigned next_job(struct em_pool *p, unsigned seen) {
  int64_t t0 = now_ns();
  unsigned job;
  for (int i = 1;; i++) {
    if ((job = atomic_load_explicit(&p->job, memory_order_acquire)) != seen) return job;
    RELAX();
    if ((i & 255) == 0 && now_ns() - t0 > SPIN_NS) break;
  }
  pthread_mutex_lock(&p->mu);
  atomic_fetch_add(&p->sleepers, 1);
  while ((job = atomic_load(&p->job)) == seen) pthread_cond_wait(&p->cv, &p->mu);
  atomic_fetch_sub(&p->sleepers, 1);
  pthread_mutex_unlock(&p->mu);
  return job;
}

/* A worker. It may wake late, even after the job it saw ended: the chunks it
** then takes are the current job's (a job's chunks are handed out only
** after the previous job's all finished), whose fields it reads after. */
static void *work(void *arg) {
  slot *me = arg;
  struct em_pool *p = me->pool;
  unsigned job = 0;
  for (;;) {
    job = next_job(p, job);
    if (atomic_load_explicit(&p->quit, memory_order_acquire)) return NULL;
    run_chunks(p, me->t);
  }
}

/* Tells the workers a job is out. */
static void publish(struct em_pool *p) {
  atomic_fetch_add(&p->job, 1);
  if (atomic_load(&p->sleepers)) {
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
  }
}

static void pool_free(struct em_pool *p) {
  if (!p) return;
  atomic_store(&p->quit, 1);
  publish(p);
  for (int i = 1; i < p->n; i++) pthread_join(p->s[i].th, NULL);
  pthread_cond_destroy(&p->cv);
  pthread_mutex_destroy(&p->mu);
  free(p);
}

/* A pool of n - 1 workers (fewer if the system gives fewer), NULL for none. */
static struct em_pool *pool_new(int n) {
  struct em_pool *p;
  size_t size = (sizeof *p + (size_t)n * sizeof(slot) + 63) / 64 * 64;
  if (n <= 1 || !(p = aligned_alloc(64, size))) return NULL;
  memset(p, 0, size);
  if (pthread_mutex_init(&p->mu, NULL)) {
    free(p);
    return NULL;
  }
  if (pthread_cond_init(&p->cv, NULL)) {
    pthread_mutex_destroy(&p->mu);
    free(p);
    return NULL;
  }
  p->n = 1;
  for (int i = 1; i < n; i++) {
    p->s[i].pool = p;
    p->s[i].t = i;
    if (pthread_create(&p->s[i].th, NULL, work, &p->s[i])) break;
    p->n++;
  }
  if (p->n == 1) {
    pool_free(p);
    return NULL;
  }
  return p;
}

void em_parallel(const em_ctx *ctx, int nt, int64_t n, em_task fn, void *arg) {
  struct em_pool *p = ctx ? ctx->pool : NULL;
  int zero = 0, max = ctx ? ctx->nthreads : 1;
  unsigned chunks = 0;
  if (n <= 0) return;
  if (nt > max) nt = max;
  if (nt > n) nt = (int)n;
  if (nt <= 1 || !p || !atomic_compare_exchange_strong(&p->busy, &zero, 1)) {
    fn(arg, 0, n, 0);
    return;
  }
  /* thread t < nt owns share t of n, cut into up to PER chunks; the others
  ** none. No chunk is out yet (a worker still leaving the last job may take
  ** one as soon as its slot is set), so the finished counts are still: the
  ** sum to reach is theirs plus this job's chunks. */
  int k[MAX_THREADS];
  p->fn = fn;
  p->arg = arg;
  for (int t = 0; t < p->n; t++) {
    int64_t a = t < nt ? n * t / nt : n, b = t < nt ? n * (t + 1) / nt : n;
    k[t] = b - a < PER ? (int)(b - a) : PER;
    for (int i = 0; i <= k[t]; i++) p->lo[t * PER + i] = a + (b - a) * i / (k[t] ? k[t] : 1);
    chunks += k[t] + atomic_load_explicit(&p->s[t].done, memory_order_relaxed);
  }
  for (int t = 0; t < p->n; t++)
    atomic_store_explicit(&p->s[t].left, (uint32_t)k[t] << 16, memory_order_release);
  publish(p);
  run_chunks(p, 0);
  /* every chunk is taken: wait for the ones still running elsewhere */
  for (;;) {
    unsigned done = 0;
    for (int t = 0; t < p->n; t++) done += atomic_load_explicit(&p->s[t].done, memory_order_acquire);
    if (done == chunks) break;
    RELAX();
  }
  atomic_store_explicit(&p->busy, 0, memory_order_release);
}

/* The cores this process may run on (taskset, a container's cpuset), else
** the ones online. */
int em_ncores(void) {
  long n;
#ifdef __linux__
  cpu_set_t set;
  if (sched_getaffinity(0, sizeof set, &set) == 0 && (n = CPU_COUNT(&set)) > 0) return (int)n;
#endif
  n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}

void em_ctx_init(em_ctx *ctx) {
  ctx->nthreads = 1;
  ctx->isa = em_cpu_isa();
  ctx->dry = 0;
  ctx->pool = NULL;
  em_ctx_set_threads(ctx, em_ncores());
}

void em_ctx_set_threads(em_ctx *ctx, int n) {
  if (n < 1) n = 1;
  if (n > MAX_THREADS) n = MAX_THREADS;
  if (n != ctx->nthreads || (n > 1) != (ctx->pool != NULL)) {
    pool_free(ctx->pool);
    ctx->pool = pool_new(n);
    ctx->nthreads = ctx->pool ? ctx->pool->n : 1;
  }
}

void em_ctx_free(em_ctx *ctx) {
  pool_free(ctx->pool);
  ctx->pool = NULL;
  ctx->nthreads = 1;
}
