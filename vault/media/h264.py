"""The H.264 bits salvage reads: parameter sets and slice headers, parsed far enough to tell
a real frame from bytes that merely look like one (ITU-T H.264, 7.3). Raw media data with
no index holds AAC frames between video samples, and AAC has no sync word: every check here
is one more way for a false start to fail."""

from __future__ import annotations

from dataclasses import dataclass

from vault.media.mp4 import Mp4Error

P, B, INTRA, SP, SI = 0, 1, 2, 3, 4  # slice_type % 5
HIGH_PROFILES = (100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135)


class Bits:
    """An RBSP bit reader (emulation prevention bytes removed first). The bits are held in
    one integer: salvage reads a slice header at every candidate position of a clip."""

    def __init__(self, data: bytes) -> None:
        self.data = data.replace(b"\x00\x00\x03", b"\x00\x00")
        self.value = int.from_bytes(self.data, "big")
        self.left = 8 * len(self.data)  # bits not read yet

    def bit(self) -> int:
        if self.left <= 0:
            raise Mp4Error("bitstream ends early")
        self.left -= 1
        return self.value >> self.left & 1

    def bits(self, count: int) -> int:
        if count > self.left:
            raise Mp4Error("bitstream ends early")
        self.left -= count
        return self.value >> self.left & ((1 << count) - 1)

    def ue(self) -> int:
        rest = self.value & ((1 << self.left) - 1)  # the bits not read yet
        if rest == 0:
            raise Mp4Error("bitstream ends early" if self.left < 32 else "bad exp-Golomb code")
        zeros = self.left - rest.bit_length()
        if zeros > 31:
            raise Mp4Error("bad exp-Golomb code")
        self.left -= zeros + 1
        return (1 << zeros) - 1 + self.bits(zeros)

    def se(self) -> int:
        code = self.ue()
        return (code + 1) // 2 if code % 2 else -(code // 2)


@dataclass(frozen=True)
class Sps:
    log2_max_frame_num: int
    poc_type: int
    log2_max_poc_lsb: int
    frame_mbs_only: bool
    separate_colour_plane: bool
    delta_pic_order_always_zero: bool = True


@dataclass(frozen=True)
class Pps:
    pps_id: int
    cabac: bool
    bottom_field_pic_order: bool
    l0_default: int
    l1_default: int
    weighted_pred: bool
    weighted_bipred: int
    init_qp: int
    deblocking_control: bool
    redundant_pic_cnt: bool


def parse_sps(nal: bytes) -> Sps:
    bits = Bits(nal[1:])
    profile = bits.bits(8)
    bits.bits(16)  # constraint flags, level
    bits.ue()  # seq_parameter_set_id
    separate = False
    if profile in HIGH_PROFILES:
        if bits.ue() == 3:  # chroma_format_idc
            separate = bool(bits.bit())
        bits.ue()
        bits.ue()  # bit depths
        bits.bit()
        if bits.bit():
            raise Mp4Error("SPS with scaling matrices is not supported by salvage")
    log2_frame = bits.ue() + 4
    poc_type = bits.ue()
    log2_poc = bits.ue() + 4 if poc_type == 0 else 0
    always_zero = True
    if poc_type == 1:
        always_zero = bool(bits.bit())
        bits.se()
        bits.se()
        for _ in range(bits.ue()):
            bits.se()
    bits.ue()  # max_num_ref_frames
    bits.bit()  # gaps_in_frame_num_value_allowed_flag
    bits.ue()
    bits.ue()  # picture size in macroblocks
    frame_mbs_only = bool(bits.bit())
    return Sps(log2_frame, poc_type, log2_poc, frame_mbs_only, separate, always_zero)


def parse_pps(nal: bytes) -> Pps:
    bits = Bits(nal[1:])
    pps_id = bits.ue()
    bits.ue()  # seq_parameter_set_id
    cabac, bottom = bool(bits.bit()), bool(bits.bit())
    if bits.ue() != 0:
        raise Mp4Error("slice groups (FMO) are not supported by salvage")
    l0, l1 = bits.ue() + 1, bits.ue() + 1
    weighted, bipred = bool(bits.bit()), bits.bits(2)
    init_qp = 26 + bits.se()
    bits.se()
    bits.se()  # pic_init_qs, chroma_qp_index_offset
    deblocking = bool(bits.bit())
    bits.bit()  # constrained_intra_pred_flag
    redundant = bool(bits.bit())
    return Pps(pps_id, cabac, bottom, l0, l1, weighted, bipred, init_qp, deblocking, redundant)


@dataclass(frozen=True)
class Slice:
    first_mb: int
    slice_type: int
    pps_id: int
    frame_num: int
    poc_lsb: int | None


def parse_slice(nal: bytes, sps: Sps, ppss: dict[int, Pps]) -> Slice:
    """A slice header, checked field by field; Mp4Error where a value is out of its range."""
    nal_type, ref_idc = nal[0] & 0x1F, nal[0] >> 5 & 3
    bits = Bits(nal[1:72])
    first_mb, slice_type, pps_id = bits.ue(), bits.ue(), bits.ue()
    pps = ppss.get(pps_id)
    if slice_type > 9 or pps is None:
        raise Mp4Error("not a slice of this stream")
    kind = slice_type % 5
    if sps.separate_colour_plane:
        bits.bits(2)
    frame_num = bits.bits(sps.log2_max_frame_num)
    field = not sps.frame_mbs_only and bool(bits.bit())
    if field:
        bits.bit()  # bottom_field_flag
    if nal_type == 5:
        if kind not in (INTRA, SI) or frame_num != 0:
            raise Mp4Error("an IDR slice must be intra with frame_num 0")
        bits.ue()  # idr_pic_id
    poc = None
    if sps.poc_type == 0:
        poc = bits.bits(sps.log2_max_poc_lsb)
        if pps.bottom_field_pic_order and not field:
            bits.se()
    elif sps.poc_type == 1 and not sps.delta_pic_order_always_zero:
        bits.se()
        if pps.bottom_field_pic_order and not field:
            bits.se()
    head = Slice(first_mb, slice_type, pps_id, frame_num, poc)
    if pps.redundant_pic_cnt:
        bits.ue()
    if kind == B:
        bits.bit()  # direct_spatial_mv_pred_flag
    override = kind in (P, SP, B) and bits.bit()  # num_ref_idx_active_override_flag
    if override and (bits.ue() > 31 or (kind == B and bits.ue() > 31)):
        raise Mp4Error("too many reference pictures")
    for _ in range(2 if kind == B else 1 if kind in (P, SP) else 0):
        _ref_pic_list_modification(bits)
    if (pps.weighted_pred and kind in (P, SP)) or (pps.weighted_bipred == 1 and kind == B):
        return head  # a prediction weight table follows: checked enough
    if ref_idc:
        _dec_ref_pic_marking(bits, nal_type == 5)
    if pps.cabac and kind not in (INTRA, SI) and bits.ue() > 2:
        raise Mp4Error("cabac_init_idc out of range")
    if not 0 <= pps.init_qp + bits.se() <= 51:
        raise Mp4Error("slice QP out of range")
    if kind in (SP, SI):
        return head
    if pps.deblocking_control:
        idc = bits.ue()
        if idc > 2:
            raise Mp4Error("disable_deblocking_filter_idc out of range")
        if idc != 1 and not (-6 <= bits.se() <= 6 and -6 <= bits.se() <= 6):
            raise Mp4Error("deblocking offsets out of range")
    return head


def _ref_pic_list_modification(bits: Bits) -> None:
    if not bits.bit():
        return
    for _ in range(33):
        idc = bits.ue()
        if idc == 3:
            return
        if idc > 5:
            raise Mp4Error("bad reference list modification")
        bits.ue()
    raise Mp4Error("endless reference list modification")


def _dec_ref_pic_marking(bits: Bits, idr: bool) -> None:
    if idr:
        bits.bits(2)
        return
    if not bits.bit():  # adaptive_ref_pic_marking_mode_flag
        return
    for _ in range(66):
        operation = bits.ue()
        if operation == 0:
            return
        if operation > 6:
            raise Mp4Error("bad memory management operation")
        if operation in (1, 3):
            bits.ue()
        if operation in (2, 3, 6, 4):
            bits.ue()
    raise Mp4Error("endless memory management operations")
