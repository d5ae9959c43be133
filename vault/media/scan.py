"""Sorting the raw media data of an MP4 that lost its index into H.264 samples and runs of
AAC audio (the untrunc technique). AAC frames have no sync word, so video is what must be
recognised, and everything between two video samples is taken as audio.

A candidate video sample passes only if every NAL unit has the shape of its type and every
slice header is in range for the stream's parameter sets (vault.media.h264), it starts a
frame, its frame number continues the previous sample's, and what follows it is video,
audio or the end. When a frame was lost, the numbering resumes at the first sample that
passes the rest. When a candidate overlaps a later one that also passes (bytes inside an
audio run can look like a frame), the one that the following samples continue wins.
"""

from __future__ import annotations

import mmap
from dataclasses import dataclass

from vault.media.h264 import Slice, Sps, parse_pps, parse_slice, parse_sps
from vault.media.mp4 import Mp4Error, TrackSetup
from vault.media.tables import Sample

VCL = (1, 5)
AAC_FIRST_ELEMENTS = (0, 1, 3, 4, 6)  # SCE, CPE, LFE, DSE, FIL: how a raw AAC frame opens
RESYNC_WINDOW = 1024 * 1024  # bytes searched for the next frame number before giving up
RIVAL_WINDOW = 16 * 1024  # how far into a candidate a rival start is looked for
FOLLOW_WINDOW = 256 * 1024  # how far after a sample the next one is looked for
FOLLOW_DEPTH = 3


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
        # Generous: a real frame refused here would be lost, with what follows it.
        self.max_nal = max(8 * video.max_sample, 8 * 1024 * 1024)
        self.video: list[Sample] = []
        self.audio: list[Sample] = []
        self.skipped = 0
        self._poc_msb = self._poc_prev = 0

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
        if nal_type in (7, 8):
            return bytes(self.data[body : body + length]) in self.in_band
        if nal_type == 6:
            return 2 < length <= 65536 and last == 0x80
        if nal_type == 12:
            return length >= 2 and self.data[body + 1] == 0xFF and last == 0x80
        return False

    def sample_at(self, pos: int, frame_num: int | None) -> Found | None:
        """The access unit starting at pos; frame_num: the number it must carry (None: any)."""
        end, first, key, ref = pos, None, False, 0
        while True:
            nal = self._nal_at(end)
            if nal is None:
                if end + 8 <= self.end and self.data[end] >> 5 not in AAC_FIRST_ELEMENTS:
                    return None  # what follows is neither video nor audio: a false start
                break
            length, nal_type, head = nal
            if first is not None and (head is None or head.first_mb == 0):
                break  # the next access unit starts here
            if head is not None and first is None:
                if head.first_mb != 0:
                    return None  # the middle of a frame, not its start
                if frame_num is not None and nal_type != 5 and head.frame_num != frame_num:
                    return None  # does not continue the numbering
                first, key = head, nal_type == 5
                ref = self.data[end + self.length_size] >> 5 & 3
            end += self.length_size + length
        return Found(pos, end, key, first, ref) if first is not None else None

    def _next_number(self, found: Found) -> int:
        step = 1 if found.ref else 0  # only reference pictures advance frame_num
        return (found.head.frame_num + step) % (1 << self.sps.log2_max_frame_num)

    def _followers(self, found: Found, depth: int) -> int:
        """How many samples in a row continue after found (the end of data counts fully)."""
        if depth == 0:
            return 0
        pos = found.end
        while pos + 8 <= self.end and pos - found.end <= FOLLOW_WINDOW:
            after = self.sample_at(pos, self._next_number(found))
            if after is not None:
                return 1 + self._followers(after, depth - 1)
            pos = self.data.find(b"\x00", pos + 1, self.end)
            if pos < 0:
                break
        return depth if found.end + 8 > self.end or pos < 0 else 0

    def _best(self, found: Found, frame_num: int | None) -> Found:
        """found, or a rival starting inside it that the following samples continue."""
        limit = min(found.end, found.start + RIVAL_WINDOW)
        pos = self.data.find(b"\x00", found.start + 1, limit)
        while 0 <= pos < limit:
            rival = self.sample_at(pos, frame_num)
            if rival is not None:
                mine = self._followers(found, FOLLOW_DEPTH)
                if self._followers(rival, FOLLOW_DEPTH) > mine:
                    return rival
                if mine == FOLLOW_DEPTH:
                    return found
            pos = self.data.find(b"\x00", pos + 1, limit)
        return found

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
        pos, audio_from, number = self.start, None, None
        while pos + 8 <= self.end:
            found = self.sample_at(pos, number)
            if found is None:
                if audio_from is None:
                    audio_from = pos
                following = self.data.find(b"\x00", pos + 1, self.end)  # lengths start 0x00
                if number is not None and (following < 0 or following - audio_from > RESYNC_WINDOW):
                    pos, number = audio_from, None  # a frame was lost: take what passes
                    continue
                pos = self.end if following < 0 else following
                continue
            if audio_from is not None:
                found = self._best(found, number)
                self._close_audio(audio_from, found.start, with_audio)
                audio_from = None
            poc = self._poc(found.head.poc_lsb, found.key, found.ref)
            self.video.append(Sample(found.start, found.end - found.start, found.key, poc))
            pos, number = found.end, self._next_number(found)
        if audio_from is not None:
            self._close_audio(audio_from, self.end, with_audio)

    def _close_audio(self, start: int, end: int, with_audio: bool) -> None:
        if with_audio and self.video:  # before the first video sample: unknown, skipped
            self.audio.append(Sample(start, end - start, True, 0))
        else:
            self.skipped += end - start
