// How often the core this runs on is taken away: it sleeps 100 µs at a time for the given seconds
// and counts each wake-up that came more than the threshold late. On an idle core a wake-up is a
// few µs late; a stall there (a kernel thread holding the core, the hypervisor descheduling the
// vCPU) is a request that waits as long, whatever the process on that core does. The bench runs it
// pinned on each core before the steady-rate runs, so a latency tail can be set beside the core's.
//
// usage: stalls <seconds> <threshold-us>
// prints one JSON line: stalls over the threshold, the time lost in them and the longest, in µs.
#define _GNU_SOURCE
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int main(int argc, char **argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: stalls <seconds> <threshold-us>\n");
    return 2;
  }
  const int64_t seconds = atoll(argv[1]);
  const int64_t threshold = atoll(argv[2]);
  const int64_t nap = 100;
  const struct timespec request = {0, nap * 1000};
  const int64_t start = now_us();
  const int64_t end = start + seconds * 1000000;
  int64_t stalls = 0, lost = 0, longest = 0, over2ms = 0, last = start;
  while (last < end) {
    nanosleep(&request, NULL);
    const int64_t woke = now_us();
    const int64_t late = woke - last - nap;
    if (late > threshold) {
      stalls++;
      lost += late;
      if (late > longest) longest = late;
      if (late > 2000) over2ms++;
    }
    last = woke;
  }
  printf("{\"us\":%lld,\"stalls\":%lld,\"lostUs\":%lld,\"longestUs\":%lld,\"over2ms\":%lld}\n", (long long)(last - start), (long long)stalls,
         (long long)lost, (long long)longest, (long long)over2ms);
  return 0;
}
