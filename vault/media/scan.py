"""Sorting the raw media data of an MP4 that lost its index into H.264 samples and runs of
AAC audio (the untrunc technique). AAC frames have no sync word, so video is what must be
recognised, and everything between two video samples is taken as audio.

A candidate video sample passes only if every NAL unit has the shape of its type and every
slice header is in range for the stream's parameter sets (vault.media.h264), it starts a
frame, its frame number continues the previous sample's, and what follows it is video,
audio or the end. When a frame was lost, the numbering resumes at the first sample that
passes the rest. When a candidate overlaps a later one that also passes (bytes inside an
audio run can look like a frame), the one that the following samples continue wins.

Time is linear in the size of the data, whatever its bytes (issue 16): every answer that
depends only on a position (a chain of NAL units, the access unit starting there, how many
samples follow it) is worked out once and kept while the scan may still ask for it, and the
valid access unit starts inside a damaged stretch are indexed by frame number as they are
found, so that looking ahead (for the frame number that continues, for rivals, for the
samples that follow) never walks the same bytes again.
"""

from __future__ import annotations

import mmap
import re
from bisect import bisect_right
from dataclasses import dataclass

from vault.media.h264 import Slice, Sps, parse_pps, parse_slice, parse_sps
from vault.media.mp4 import Mp4Error, TrackSetup
from vault.media.tables import Sample

VCL = (1, 5)
NONZERO = re.compile(rb"[^\x00]")
AAC_FIRST_ELEMENTS = (0, 1, 3, 4, 6)  # SCE, CPE, LFE, DSE, FIL: how a raw AAC frame opens
RESYNC_WINDOW = 1024 * 1024  # bytes searched for the next frame number before giving up
RIVAL_WINDOW = 16 * 1024  # how far into a candidate a rival start is looked for
FOLLOW_WINDOW = 256 * 1024  # how far after a sample the next one is looked for
FOLLOW_DEPTH = 3
TRIM_STEP = 4 * 1024 * 1024  # how often answers behind the scan are dropped
CACHE_LIMIT = 2_000_000  # answers kept at most (a hostile file's memory, not its time)


@dataclass(frozen=True)
class Found:
    start: int
    end: int
    key: bool
    head: Slice  # of the first slice
    ref: int  # its nal_ref_idc


class Scanner:
    """Positions are file offsets; the file is memory-mapped (a 2 GB clip is not read in)."""

    def __init__(self, data: mmap.mmap, start: int, end: int, video: TrackSetup) -> None:
        self.data, self.start, self.end = data, start, end
        self.length_size = video.nal_length_size
        self.sps: Sps = parse_sps(video.sps[0])
        self.ppss = {pps.pps_id: pps for pps in map(parse_pps, video.pps)}
        self.in_band = set(video.sps) | set(video.pps)
        self.in_band_lengths = {len(unit) for unit in self.in_band}
        # Generous: a real frame refused here would be lost, with what follows it.
        self.max_nal = max(8 * video.max_sample, 8 * 1024 * 1024)
        self.video: list[Sample] = []
        self.audio: list[Sample] = []
        self.skipped = 0
        self._poc_msb = self._poc_prev = 0
        # Answers by position (see the module's docstring); dropped behind the scan.
        self._leads: dict[int, int] = {}  # non-VCL unit -> first VCL unit after it, or -1
        self._tails: dict[int, int] = {}  # later slice of a frame -> where the frame ends, or -1
        self._units: dict[int, Found] = {}  # valid access unit starts (any frame number)
        self._follows: dict[tuple[int, int], int] = {}  # (sample start, depth) -> followers
        self._trimmed = start
        self._last_zero = data.rfind(b"\x00", start, end)
        # The index of one damaged stretch: every zero byte in [gap + 1, front) is classified.
        self._front = start
        self._any: list[int] = []
        self._idr: list[int] = []
        self._by_number: dict[int, list[int]] = {}

    def _nal_at(self, pos: int) -> tuple[int, int, Slice | None] | None:
        """(length, type, slice head) when a plausible NAL unit starts at pos."""
        data, size = self.data, self.length_size
        if pos + size + 1 > self.end:
            return None
        length = int.from_bytes(data[pos : pos + size], "big")
        if length < 1 or length > self.max_nal or pos + size + length > self.end:
            return None
        header = data[pos + size]
        nal_type, ref_idc = header & 0x1F, header >> 5 & 3
        if header & 0x80:
            return None
        body = pos + size
        if nal_type not in VCL:
            return (length, nal_type, None) if self._non_vcl_ok(body, length, nal_type) else None
        if nal_type == 5 and ref_idc == 0:
            return None
        try:
            head = parse_slice(bytes(data[body : body + min(length, 72)]), self.sps, self.ppss)
        except Mp4Error:
            return None
        return length, nal_type, head

    def _non_vcl_ok(self, body: int, length: int, nal_type: int) -> bool:
        """SEI, AUD, parameter sets, end of sequence/stream, filler: each has a shape."""
        last = self.data[body + length - 1]
        if nal_type in (10, 11):
            return length == 1
        if nal_type == 9:
            return length == 2 and self.data[body + 1] & 0x1F == 0x10
        if nal_type in (7, 8):  # the length first: a claimed 8 MB set is not copied
            return length in self.in_band_lengths and (
                bytes(self.data[body : body + length]) in self.in_band
            )
        if nal_type == 6:
            return 2 < length <= 65536 and last == 0x80
        if nal_type == 12:
            return length >= 2 and self.data[body + 1] == 0xFF and last == 0x80
        return False

    def _lead(self, pos: int) -> int:
        """The first slice after the non-VCL units that open an access unit at pos, or -1."""
        path, at = [], pos
        while True:
            known = self._leads.get(at)
            if known is not None:
                found = known
                break
            nal = self._nal_at(at)
            if nal is None or nal[2] is not None:
                found = -1 if nal is None else at
                break
            path.append(at)
            at += self.length_size + nal[0]
        for step in path:  # a chain of units is walked once, from wherever it is entered
            self._leads[step] = found
        return found

    def _tail(self, pos: int) -> int:
        """Where the frame whose next unit is at pos ends: -1 where what follows it is
        neither video nor audio (a false start)."""
        path, at = [], pos
        while True:
            known = self._tails.get(at)
            if known is not None:
                found = known
                break
            nal = self._nal_at(at)
            if nal is None:
                ends = at + 8 > self.end or self.data[at] >> 5 in AAC_FIRST_ELEMENTS
                found = at if ends else -1
                break
            length, _, head = nal
            if head is None or head.first_mb == 0:
                found = at  # the next access unit starts here
                break
            path.append(at)
            at += self.length_size + length
        for step in path:
            self._tails[step] = found
        return found

    def _unit(self, pos: int) -> Found | None:
        """The access unit starting at pos, whatever its frame number."""
        known = self._units.get(pos)
        if known is not None:
            return known
        first = self._lead(pos)
        if first < 0:
            return None
        nal = self._nal_at(first)
        assert nal is not None
        length, nal_type, head = nal
        if head is None or head.first_mb != 0:
            return None  # the middle of a frame, not its start
        end = self._tail(first + self.length_size + length)
        if end < 0:
            return None
        ref = self.data[first + self.length_size] >> 5 & 3
        found = Found(pos, end, nal_type == 5, head, ref)
        self._units[pos] = found
        return found

    @staticmethod
    def _continues(found: Found, frame_num: int | None) -> bool:
        return frame_num is None or found.key or found.head.frame_num == frame_num

    def sample_at(self, pos: int, frame_num: int | None) -> Found | None:
        """The access unit starting at pos; frame_num: the number it must carry (None: any)."""
        found = self._unit(pos)
        return found if found is not None and self._continues(found, frame_num) else None

    def _next_number(self, found: Found) -> int:
        step = 1 if found.ref else 0  # only reference pictures advance frame_num
        return (found.head.frame_num + step) % (1 << self.sps.log2_max_frame_num)

    def _open_gap(self, gap: int) -> None:
        """A damaged stretch starts at gap: nothing before it is asked for again."""
        if self._front <= gap:
            self._front = gap + 1
            self._any, self._idr, self._by_number = [], [], {}
        elif len(self._any) > CACHE_LIMIT // 4:  # what lies behind is never asked for
            self._any = self._any[bisect_right(self._any, gap) :]
            self._idr = self._idr[bisect_right(self._idr, gap) :]
            for number, known in list(self._by_number.items()):
                self._by_number[number] = known[bisect_right(known, gap) :]

    def _classify(self, until: int, after: int, frame_num: int | None) -> int:
        """Index the zero bytes from the front up to until (inclusive); stops early at the
        first one after `after` that starts a sample continuing frame_num (returned)."""
        data, stop, size = self.data, min(until + 1, self.end), self.length_size
        while self._front < stop:
            pos = data.find(b"\x00", self._front, stop)
            if pos < 0:
                self._front = stop
                break
            self._front = pos + 1
            if data[pos + size - 1 : pos + size] == b"\x00":  # maybe a run of zero bytes
                nonzero = NONZERO.search(data, pos, stop)
                run_end = nonzero.start() if nonzero else stop
                if run_end - pos >= size:  # a length of 0 at each of them: none starts a unit
                    self._front = max(pos + 1, run_end - size + 1)
                    continue
            found = self._unit(pos)
            if found is None:
                continue
            self._any.append(pos)
            if found.key:
                self._idr.append(pos)
            else:
                self._by_number.setdefault(found.head.frame_num, []).append(pos)
            if pos > after and self._continues(found, frame_num):
                return pos
        return -1

    def _lists(self, frame_num: int | None) -> list[list[int]]:
        if frame_num is None:
            return [self._any]
        return [self._by_number.get(frame_num, []), self._idr]

    def _first(self, pos: int, frame_num: int | None, window: int) -> Found | None:
        """The first sample continuing frame_num at pos, or at a zero byte after it, no
        further than window and at least 8 bytes before the end: what a byte-by-byte search
        from pos would find."""
        if pos + 8 > self.end:
            return None
        found = self.sample_at(pos, frame_num)
        if found is not None:
            return found
        limit = min(pos + window, self.end - 8)
        best = -1
        for known in self._lists(frame_num):  # already indexed: all below the front
            index = bisect_right(known, pos)
            if index < len(known) and known[index] <= limit:
                best = known[index] if best < 0 else min(best, known[index])
        if best < 0 and self._front <= limit:
            best = self._classify(limit, pos, frame_num)
        return self._unit(best) if best >= 0 else None

    def _zeros_after(self, pos: int) -> bool:
        return self._last_zero > pos

    def _followers(self, found: Found, depth: int) -> int:
        """How many samples in a row continue after found (the end of data counts fully)."""
        if depth == 0:
            return 0
        known = self._follows.get((found.start, depth))
        if known is not None:
            return known
        if found.end + 8 > self.end:
            count = depth
        else:
            after = self._first(found.end, self._next_number(found), FOLLOW_WINDOW)
            if after is not None:
                count = 1 + self._followers(after, depth - 1)
            else:  # the zero bytes ran out inside the window: the end of data counts fully
                limit = min(found.end + FOLLOW_WINDOW, self.end - 8)
                count = 0 if self._zeros_after(limit) else depth
        self._follows[(found.start, depth)] = count
        return count

    def _rivals(self, found: Found, frame_num: int | None) -> list[int]:
        """Zero bytes inside found (its first RIVAL_WINDOW bytes) that start a sample
        continuing frame_num, in order."""
        limit = min(found.end, found.start + RIVAL_WINDOW) - 1
        if self._front <= limit:
            self._classify(limit, self.end, frame_num)  # all of them, no early stop
        rivals: list[int] = []
        for known in self._lists(frame_num):
            index = bisect_right(known, found.start)
            while index < len(known) and known[index] <= limit:
                rivals.append(known[index])
                index += 1
        return sorted(rivals)

    def _best(self, found: Found, frame_num: int | None) -> Found:
        """found, or a rival starting inside it that the following samples continue."""
        mine: int | None = None
        for pos in self._rivals(found, frame_num):
            rival = self._unit(pos)
            assert rival is not None
            if mine is None:
                mine = self._followers(found, FOLLOW_DEPTH)
            if self._followers(rival, FOLLOW_DEPTH) > mine:
                return rival
            if mine == FOLLOW_DEPTH:
                return found
        return found

    def _trim(self, pos: int) -> None:
        """Drop the answers about bytes behind pos: the scan never asks for them again."""
        caches = (self._leads, self._tails, self._units)
        if sum(len(cache) for cache in caches) + len(self._follows) > CACHE_LIMIT:
            for cache in caches:
                cache.clear()
            self._follows.clear()
        elif pos - self._trimmed >= TRIM_STEP:
            self._leads = {k: v for k, v in self._leads.items() if k >= pos}
            self._tails = {k: v for k, v in self._tails.items() if k >= pos}
            self._units = {k: v for k, v in self._units.items() if k >= pos}
            self._follows = {k: v for k, v in self._follows.items() if k[0] >= pos}
        else:
            return
        self._trimmed = pos

    def _gives_up(self, gap: int) -> bool:
        """A byte-by-byte search for the continuing frame number that reaches the data's
        last 8 bytes inside its window stops there: the rest is taken as audio."""
        limit = self.end - 8
        if gap + RESYNC_WINDOW <= limit:
            return False
        last = self.data.find(b"\x00", limit + 1, self.end)
        return 0 <= last <= gap + RESYNC_WINDOW

    def _poc(self, lsb: int | None, key: bool, ref: int) -> int:
        if lsb is None:  # POC types 1 and 2: presentation order is decoding order
            return len(self.video)
        if key:
            self._poc_msb = self._poc_prev = 0
        top = 1 << self.sps.log2_max_poc_lsb
        msb = self._poc_msb
        if lsb < self._poc_prev and self._poc_prev - lsb >= top // 2:
            msb += top
        elif lsb > self._poc_prev and lsb - self._poc_prev > top // 2:
            msb -= top
        if ref:
            self._poc_msb, self._poc_prev = msb, lsb
        return msb + lsb

    def scan(self, with_audio: bool) -> None:
        pos, number = self.start, None
        whole = self.end - self.start
        while pos + 8 <= self.end:
            self._trim(pos)
            found = self.sample_at(pos, number)
            if found is None:  # a damaged stretch (or audio) from pos on
                gap = pos
                self._open_gap(gap)
                found = self._first(gap, number, RESYNC_WINDOW if number is not None else whole)
                if found is None and number is not None and not self._gives_up(gap):
                    number = None  # a frame was lost: take the first sample that passes
                    found = self._first(gap, None, whole)
                if found is None:
                    self._close_audio(gap, self.end, with_audio)
                    return
                found = self._best(found, number)
                self._close_audio(gap, found.start, with_audio)
            poc = self._poc(found.head.poc_lsb, found.key, found.ref)
            self.video.append(Sample(found.start, found.end - found.start, found.key, poc))
            pos, number = found.end, self._next_number(found)

    def _close_audio(self, start: int, end: int, with_audio: bool) -> None:
        if with_audio and self.video:  # before the first video sample: unknown, skipped
            self.audio.append(Sample(start, end - start, True, 0))
        else:
            self.skipped += end - start
