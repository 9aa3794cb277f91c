// Eight threads allocate and free across threads, while short-lived
// threads come and go. Exact totals per function (in-use / allocated):
//   Produce      4 producers x 20000 x malloc(100 + producer)
//                (each block freed by a consumer thread)   0 / 8120000 bytes, 0 / 80000 objs
//   ConsumerGrow 80000 x realloc(block, 2 * size) on a consumer, then freed
//                                                          0 / 16240000,      0 / 80000
//   ProduceKept  4 producers x 100 x malloc(333), kept     133200 / 133200,  400 / 400
//   ShortLived   200 threads x 10 x malloc(123), 5 freed each
//                                                     123000 / 246000,   1000 / 2000
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <cstdio>

constexpr int kProducers = 4;
constexpr int kConsumers = 4;
constexpr int kItems = 20000;
constexpr int kShortLived = 200;

struct Item {
  void* block;
  size_t size;
};

// A bounded queue without any allocation of its own.
constexpr int kQueueCap = 64;
Item g_queue[kQueueCap];
int g_head = 0, g_count = 0;
pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
pthread_cond_t g_not_empty = PTHREAD_COND_INITIALIZER;
pthread_cond_t g_not_full = PTHREAD_COND_INITIALIZER;

void* volatile g_kept[kProducers][kItems / 200];
void* volatile g_short_kept[kShortLived][5];
long g_consumed[kConsumers];

void Push(Item it) {
  pthread_mutex_lock(&g_mu);
  while (g_count == kQueueCap) pthread_cond_wait(&g_not_full, &g_mu);
  g_queue[(g_head + g_count) % kQueueCap] = it;
  g_count++;
  pthread_cond_signal(&g_not_empty);
  pthread_mutex_unlock(&g_mu);
}

Item Pop() {
  pthread_mutex_lock(&g_mu);
  while (g_count == 0) pthread_cond_wait(&g_not_empty, &g_mu);
  Item it = g_queue[g_head];
  g_head = (g_head + 1) % kQueueCap;
  g_count--;
  pthread_cond_signal(&g_not_full);
  pthread_mutex_unlock(&g_mu);
  return it;
}

__attribute__((noinline)) void* Produce(size_t size) {
  void* p = malloc(size);
  memset(p, 0x5a, size);
  return p;
}

__attribute__((noinline)) void ProduceKept(int producer, int i) {
  g_kept[producer][i] = malloc(333);
}

__attribute__((noinline)) void* ConsumerGrow(void* block, size_t size) {
  void* q = realloc(block, 2 * size);
  static_cast<char*>(q)[2 * size - 1] = 1;
  return q;
}

void* Producer(void* arg) {
  int id = static_cast<int>(reinterpret_cast<long>(arg));
  for (int i = 0; i < kItems; i++) {
    size_t size = 100 + static_cast<size_t>(id);
    Push(Item{Produce(size), size});
    if (i % 200 == 0) ProduceKept(id, i / 200);
  }
  return nullptr;
}

void* Consumer(void* arg) {
  int id = static_cast<int>(reinterpret_cast<long>(arg));
  for (;;) {
    Item it = Pop();
    if (it.block == nullptr) break;
    if (static_cast<unsigned char*>(it.block)[it.size - 1] != 0x5a) abort();
    void* q = ConsumerGrow(it.block, it.size);
    free(q);
    g_consumed[id]++;
  }
  return nullptr;
}

__attribute__((noinline)) void* ShortLived(void* arg) {
  int id = static_cast<int>(reinterpret_cast<long>(arg));
  void* mine[10];
  for (int i = 0; i < 10; i++) mine[i] = malloc(123);
  for (int i = 0; i < 5; i++) g_short_kept[id][i] = mine[i];
  for (int i = 5; i < 10; i++) free(mine[i]);
  return nullptr;
}

void* Spawner(void*) {
  // Threads start and exit one after another while the others allocate.
  for (long i = 0; i < kShortLived; i++) {
    pthread_t t;
    pthread_create(&t, nullptr, ShortLived, reinterpret_cast<void*>(i));
    pthread_join(t, nullptr);
  }
  return nullptr;
}

int main() {
  pthread_t producers[kProducers], consumers[kConsumers], spawner;
  for (long i = 0; i < kConsumers; i++) pthread_create(&consumers[i], nullptr, Consumer, (void*)i);
  for (long i = 0; i < kProducers; i++) pthread_create(&producers[i], nullptr, Producer, (void*)i);
  pthread_create(&spawner, nullptr, Spawner, nullptr);
  for (auto& t : producers) pthread_join(t, nullptr);
  for (int i = 0; i < kConsumers; i++) Push(Item{nullptr, 0});
  for (auto& t : consumers) pthread_join(t, nullptr);
  pthread_join(spawner, nullptr);
  long consumed = 0;
  for (long c : g_consumed) consumed += c;
  std::printf("produced %d consumed %ld short-lived %d\n", kProducers * kItems, consumed,
              kShortLived);
  return 0;
}
