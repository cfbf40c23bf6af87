// Waiting for SIGTERM/SIGINT in a goroutine (spindle-lb, spindle-backend). The runtime has no
// signal support, so the signals are blocked in every thread (block_signals, before the Runtime
// starts its threads) and read from a signalfd that the netpoller watches: no handler ever runs
// runtime code.
#pragma once

#include <initializer_list>
#include <string>

#include "base/result.h"

namespace spindle::net {

// Blocks `signals` in the calling thread; threads created afterwards inherit the mask. Call
// in main() before constructing the Runtime.
void block_signals(std::initializer_list<int> signals);

// Parks the calling goroutine until one of `signals` (blocked by block_signals) arrives, and
// returns its number. Fails with a message when the signalfd cannot be made or polled.
base::Result<int, std::string> wait_for_signal(std::initializer_list<int> signals);

}  // namespace spindle::net
