"""Trajectories -> advanced tools and hard queries -> guided, verified multi-turn samples -> datasets."""

from synthesizer.browser import (
    browser_section,
    dialogue_turns,
    print_view,
    record_view,
    sample_view,
    store_view,
    store_views,
    view_to_show,
)
from synthesizer.chain import DialogueRunner, openai_tool
from synthesizer.dialogue import Dialogue, Turn, Variant
from synthesizer.errors import (
    ConfigError,
    DatasetError,
    EndpointError,
    EndpointUnavailable,
    ExportError,
    LLMError,
    SynthesizerError,
)
from synthesizer.export import ARGUMENT_FORMS, FORMATS, ExportOptions, export_samples
from synthesizer.focus import focus_figures, focus_for, focused_target, focused_variants, is_held_out
from synthesizer.llm import ChatModel, ChatReply, ResponseCache
from synthesizer.offline import OfflineBackend, OfflineRoles
from synthesizer.pipeline import RunConfig, run_pipeline
from synthesizer.plan import AdvancedTool, Call, DialoguePlan, TargetChoice, TurnPlan, Variants, plan_dialogue
from synthesizer.quality import QUALITY_FIGURES, format_quality, measure_quality, read_records
from synthesizer.report import collect_figures, write_report
from synthesizer.roles import AssistantMessage, Backend, ModelBackend, ModelRoles, Roles
from synthesizer.samples import Reject, Sample, SampleStore
from synthesizer.synthesize import SynthesisConfig, synthesize
from synthesizer.validate import Verdict, check_turn

__all__ = [
    "ARGUMENT_FORMS",
    "AdvancedTool",
    "AssistantMessage",
    "Backend",
    "Call",
    "ChatModel",
    "ChatReply",
    "ConfigError",
    "DatasetError",
    "Dialogue",
    "DialoguePlan",
    "DialogueRunner",
    "EndpointError",
    "EndpointUnavailable",
    "ExportError",
    "ExportOptions",
    "FORMATS",
    "LLMError",
    "ModelBackend",
    "ModelRoles",
    "OfflineBackend",
    "OfflineRoles",
    "QUALITY_FIGURES",
    "Reject",
    "ResponseCache",
    "Roles",
    "RunConfig",
    "Sample",
    "SampleStore",
    "SynthesisConfig",
    "SynthesizerError",
    "TargetChoice",
    "Turn",
    "TurnPlan",
    "Variant",
    "Variants",
    "Verdict",
    "browser_section",
    "check_turn",
    "collect_figures",
    "dialogue_turns",
    "export_samples",
    "focus_figures",
    "focus_for",
    "focused_target",
    "focused_variants",
    "format_quality",
    "is_held_out",
    "measure_quality",
    "openai_tool",
    "plan_dialogue",
    "print_view",
    "read_records",
    "record_view",
    "run_pipeline",
    "sample_view",
    "store_view",
    "store_views",
    "synthesize",
    "view_to_show",
    "write_report",
]
