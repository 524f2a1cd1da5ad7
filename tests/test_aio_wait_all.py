"""``smppfast.aio.wait_all``: a batch of submit futures waited for cheaply, failures left to read."""

from __future__ import annotations

import asyncio

from smppfast import AsyncClient, CommandStatusError, Status, SubmitSm
from smppfast.aio import wait_all
from smppfast.simulator import Faults, Simulator


def test_wait_all_returns_every_future_done_and_raises_for_none() -> None:
    async def main() -> None:
        with Simulator(faults=Faults(nack_every=7, delay=0.05)) as sim:
            async with AsyncClient("127.0.0.1", sim.port, system_id="w", password="p", window=50) as client:
                futures = await client.submit_many([SubmitSm(destination_addr="1555", short_message=b"x")
                                                    for _ in range(200)])
                assert not all(f.done() for f in futures)  # the responses are held 50 ms
                done = await wait_all(futures)
                assert done is futures and all(f.done() for f in futures)
                failed = [f for f in futures if f.exception() is not None]
                assert len(failed) == 200 // 7
                errors = [f.exception() for f in failed]
                assert all(isinstance(e, CommandStatusError) and e.status == Status.ESME_RSYSERR for e in errors)
                assert all(f.result().message_id for f in futures if f.exception() is None)

    asyncio.run(main())


def test_cancelling_the_waiter_cancels_none_of_the_futures() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        futures = [loop.create_future() for _ in range(3)]
        waiter = asyncio.ensure_future(wait_all(futures))
        await asyncio.sleep(0.01)
        waiter.cancel()
        try:
            await waiter
        except asyncio.CancelledError:
            pass
        assert waiter.cancelled()
        assert not any(f.done() for f in futures)
        futures[0].cancel()  # a cancelled request future is passed over, not raised
        futures[1].set_exception(ValueError("refused"))
        futures[2].set_result("ok")
        assert await wait_all(futures) is futures

    asyncio.run(main())
