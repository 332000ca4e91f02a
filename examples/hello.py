"""A small demo on goloop: timers, tasks, a thread handing work back to the
loop, run_in_executor and a signal handler, then the loop's report."""
import asyncio
import os
import signal
import threading

import goloop


async def main() -> None:
    loop = asyncio.get_running_loop()
    print(f"running on {type(loop).__module__}.{type(loop).__name__}")

    start = loop.time()
    order = []
    for delay in (0.03, 0.01, 0.02):
        loop.call_later(delay, order.append, delay)
    await asyncio.sleep(0.05)
    print(f"timers fired in order: {order}")

    results = await asyncio.gather(*(asyncio.sleep(0.01, i * i) for i in range(5)))
    print(f"gathered tasks: {results}")

    done = loop.create_future()
    threading.Thread(target=lambda: loop.call_soon_threadsafe(done.set_result, "from a thread")).start()
    print(f"call_soon_threadsafe: {await done}")

    print(f"run_in_executor: {await loop.run_in_executor(None, sum, range(1000))}")

    got = loop.create_future()
    loop.add_signal_handler(signal.SIGUSR1, got.set_result, "SIGUSR1")
    os.kill(os.getpid(), signal.SIGUSR1)
    print(f"signal handler: {await got}")
    loop.remove_signal_handler(signal.SIGUSR1)

    print(f"done in {loop.time() - start:.3f}s of loop time")


if __name__ == "__main__":
    goloop.run(main())
