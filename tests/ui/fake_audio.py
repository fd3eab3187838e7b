"""A fake microphone for the recorder and Speech tab tests (there is none on a CI machine).

:class:`FakeBackend` lists the devices it is given and opens :class:`FakeSource`s, which
deliver a sine or white noise at wall-clock pace (as a real device does), or refuse to open,
or fail after a while.
"""

from __future__ import annotations

import time

import numpy as np

from playground.ui.recorder import AudioDeviceError, InputDevice

FAKE_MIC = InputDevice("fake-mic", "Fake microphone", True)


class FakeSource:
    def __init__(self, kind: str = "sine", sample_rate: int = 16_000, freq: float = 440.0,
                 amp: float = 0.3, fail_on_start: str | None = None,
                 fail_after: float | None = None, seed: int = 0) -> None:
        self.kind = kind
        self.sample_rate = int(sample_rate)
        self.name = f"Fake microphone ({kind})"
        self.freq, self.amp = freq, amp
        self.fail_on_start, self.fail_after = fail_on_start, fail_after
        self.rng = np.random.default_rng(seed)
        self.started = self.stopped = False
        self._t0 = 0.0
        self._n = 0

    def start(self) -> None:
        if self.fail_on_start:
            raise AudioDeviceError(self.fail_on_start)
        self.started = True
        self._t0 = time.monotonic()

    def read(self) -> np.ndarray:
        target = int((time.monotonic() - self._t0) * self.sample_rate)
        if self.fail_after is not None and target > self.fail_after * self.sample_rate:
            raise AudioDeviceError("The microphone 'Fake microphone' stopped delivering audio "
                                   "(IOError); it may have been unplugged.")
        n = max(0, target - self._n)
        t = (self._n + np.arange(n)) / self.sample_rate
        self._n += n
        if self.kind == "noise":
            return (self.amp * self.rng.standard_normal(n)).astype(np.float32)
        return (self.amp * np.sin(2 * np.pi * self.freq * t)).astype(np.float32)

    def stop(self) -> None:
        self.stopped = True


class FakeBackend:
    def __init__(self, devices: tuple[InputDevice, ...] = (FAKE_MIC,), **source_options) -> None:
        self.devices = tuple(devices)
        self.source_options = source_options
        self.sources: list[FakeSource] = []

    def input_devices(self) -> list[InputDevice]:
        return list(self.devices)

    def open(self, device_id: str | None, sample_rate: int) -> FakeSource:
        options = {"sample_rate": sample_rate, **self.source_options}
        source = FakeSource(**options)
        self.sources.append(source)
        return source
