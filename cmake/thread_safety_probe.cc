// Must NOT compile under clang -Wthread-safety -Werror (CMakeLists.txt checks that it does not):
// proof that the annotations of engine/mutex.h are really checked, not expanded to nothing.
#include "engine/mutex.h"

namespace {
orderlog::Mutex mu;
int guarded ORDERLOG_GUARDED_BY(mu) = 0;
orderlog::ThreadRole writer;
int owned ORDERLOG_GUARDED_BY(writer) = 0;
}  // namespace

int main() {
  guarded = 1;   // without holding mu
  return owned;  // without the writer's role
}
