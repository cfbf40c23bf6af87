// C++ exception state belongs to the goroutine: a goroutine that parks inside a catch block or
// in a destructor during unwinding, and resumes on another thread, still sees its own
// exception, and neither thread is left with it.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <exception>
#include <stdexcept>
#include <string>

#include "runtime/channel.h"
#include "runtime/runtime.h"

namespace spindle::runtime {
namespace {

// The calling thread's id, read afresh: std::this_thread::get_id() is pthread_self(), which
// the compiler may fold across a park (it is declared const), returning the old thread's.
long thread_id() { return syscall(SYS_gettid); }

// Runs `body` as a goroutine that calls `pause()` once, and makes it resume on another thread
// than the one it paused on: with one processor both goroutines share a thread until the
// caller wires itself to that thread (lock_os_thread) and then waits, so the paused goroutine
// can only resume on another. `check_caller` runs afterwards on the first thread.
class Migration {
 public:
  void pause() {
    paused_on_ = thread_id();
    entered_.send(1);
    resume_.recv();
    resumed_on_ = thread_id();
  }

  template <typename Body, typename Check>
  void run(Body body, Check check_caller) {
    Runtime rt(Options{.procs = 1});
    rt.run([&] {
      go([&] {
        body(*this);
        finished_.send(1);
      });
      entered_.recv();
      lock_os_thread();
      EXPECT_EQ(thread_id(), paused_on_);
      resume_.send(1);
      finished_.recv();
      EXPECT_EQ(thread_id(), paused_on_);
      check_caller();
      unlock_os_thread();
    });
    EXPECT_NE(paused_on_, resumed_on_) << "the goroutine did not change threads";
  }

 private:
  Chan<int> entered_ = make_chan<int>();
  Chan<int> resume_ = make_chan<int>();
  Chan<int> finished_ = make_chan<int>();
  long paused_on_ = 0, resumed_on_ = 0;
};

std::string rethrown_what() {
  try {
    throw;
  } catch (const std::exception& e) {
    return e.what();
  }
}

void expect_no_exception_state() {
  EXPECT_FALSE(std::current_exception());
  EXPECT_EQ(std::uncaught_exceptions(), 0);
}

TEST(ExceptionState, ParkInsideCatchAndResumeOnAnotherThread) {
  std::string after_resume, after_nested;
  Migration m;
  m.run(
      [&](Migration& self) {
        try {
          throw std::runtime_error("first");
        } catch (...) {
          self.pause();
          EXPECT_TRUE(std::current_exception());
          after_resume = rethrown_what();
          try {
            throw std::logic_error("nested");
          } catch (...) {
            after_nested = rethrown_what();
          }
          EXPECT_EQ(rethrown_what(), "first");
        }
        expect_no_exception_state();
      },
      [] { expect_no_exception_state(); });
  EXPECT_EQ(after_resume, "first");
  EXPECT_EQ(after_nested, "nested");
}

// Parks in its destructor, which runs while an exception unwinds through its scope.
struct ParksWhileUnwinding {
  ~ParksWhileUnwinding() {
    before = std::uncaught_exceptions();
    migration.pause();
    after = std::uncaught_exceptions();
  }
  Migration& migration;
  int& before;
  int& after;
};

TEST(ExceptionState, ParkInDestructorDuringUnwindingAndResumeOnAnotherThread) {
  int before = -1, after = -1, in_catch = -1;
  std::string caught;
  Migration m;
  m.run(
      [&](Migration& self) {
        try {
          ParksWhileUnwinding p{self, before, after};
          throw std::runtime_error("unwinding");
        } catch (const std::runtime_error& e) {
          caught = e.what();
          in_catch = std::uncaught_exceptions();
        }
        expect_no_exception_state();
      },
      [] { expect_no_exception_state(); });
  EXPECT_EQ(before, 1);
  EXPECT_EQ(after, 1);
  EXPECT_EQ(in_catch, 0);
  EXPECT_EQ(caught, "unwinding");
}

// Goroutines sharing one thread: one parked inside a catch block must not lend its exception
// to the others, nor see theirs.
TEST(ExceptionState, GoroutinesOnOneThreadDoNotShareIt) {
  std::string seen_by_parked;
  bool other_saw_exception = true;
  Runtime rt(Options{.procs = 1});
  rt.run([&] {
    auto entered = make_chan<int>();
    auto resume = make_chan<int>();
    auto done = make_chan<int>();
    go([&]() {
      try {
        throw std::runtime_error("parked");
      } catch (...) {
        entered.send(1);
        resume.recv();
        seen_by_parked = rethrown_what();
      }
      done.send(1);
    });
    entered.recv();
    other_saw_exception = static_cast<bool>(std::current_exception());
    try {
      throw std::logic_error("other");
    } catch (...) {
      EXPECT_EQ(rethrown_what(), "other");
    }
    resume.send(1);
    done.recv();
    expect_no_exception_state();
  });
  EXPECT_FALSE(other_saw_exception);
  EXPECT_EQ(seen_by_parked, "parked");
}

}  // namespace
}  // namespace spindle::runtime
