"""The designed journey written for process tools: PNML (Petri net) and BPMN 2.0 XML.

The PNML is what ``pm4py.read_pnml`` reads: places, transitions named by touchpoint (silent
ones marked ``$invisible$`` the ProM way, with no name), arcs, one token in the initial
place and a final marking with one token in ``end``. The BPMN draws each stage as an ad hoc
sub-process of its touchpoint tasks (any order, any number of times, the default rule) joined
in stage order, with exclusive gateways where a stage may be skipped or the journey may end.
"""

from __future__ import annotations

from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from parcours.analytics.conformance.net import Net, journey_net
from parcours.config import JourneyConfig
from parcours.errors import ParcoursError


def _id(kind: str, i: int) -> str:
    return f"{kind}{i}"


def pnml_text(net: Net) -> str:
    """``net`` as PNML 2009 core-model XML with initial and final markings."""
    pid = {p: _id("p", i) for i, p in enumerate(net.places)}
    lines = ['<?xml version="1.0" encoding="UTF-8"?>', "<pnml>",
             '<net id="net1" type="http://www.pnml.org/version-2009/grammar/pnmlcoremodel">',
             f"<name><text>{escape(net.name)}</text></name>", '<page id="n0">']
    for p in net.places:
        mark = "<initialMarking><text>1</text></initialMarking>" if p == net.initial else ""
        lines.append(f'<place id="{pid[p]}"><name><text>{escape(p)}</text></name>{mark}</place>')
    arcs = []
    for i, t in enumerate(net.transitions):
        tid = _id("t", i)
        if t.label is None:
            lines.append(f'<transition id="{tid}"><toolspecific tool="ProM" version="6.4" '
                         f'activity="$invisible$" localNodeID="{tid}"/></transition>')
        else:
            lines.append(f'<transition id="{tid}"><name><text>{escape(t.label)}</text></name></transition>')
        arcs += [(pid[p], tid) for p in t.consume] + [(tid, pid[p]) for p in t.produce]
    for k, (src, dst) in enumerate(arcs):
        lines.append(f'<arc id="a{k}" source="{src}" target="{dst}"/>')
    lines += ["</page>", "<finalmarkings><marking>",
              f'<place idref="{pid[net.final]}"><text>1</text></place>',
              "</marking></finalmarkings>", "</net>", "</pnml>"]
    return "\n".join(lines) + "\n"


def bpmn_text(config: JourneyConfig) -> str:
    """``config``'s designed journey as BPMN 2.0 XML (one ad hoc sub-process per stage)."""
    body: list[str] = ['<startEvent id="start" name="start"/>', '<endEvent id="end" name="end"/>']
    flows: list[tuple[str, str]] = []
    prev = "start"
    for k, stage in enumerate(config.stages):
        sid = f"stage{k}"
        tasks = []
        for j, t in enumerate(tp for tp in config.touchpoints if tp.stage == stage.name):
            doc = (f"required={str(t.is_required).lower()}; repeatable={str(t.repeatable).lower()}"
                   + (f"; after={','.join(t.after)}" if t.after else ""))
            tasks.append(f'<task id="{sid}_t{j}" name={quoteattr(t.name)}>'
                         f"<documentation>{escape(doc)}</documentation></task>")
        body.append(f'<adHocSubProcess id="{sid}" name={quoteattr(stage.name)} ordering="Parallel">'
                    f"<documentation>skippable={str(stage.skippable).lower()}</documentation>"
                    + "".join(tasks) + "</adHocSubProcess>")
        if stage.skippable:
            gw = f"skip{k}"
            body.append(f'<exclusiveGateway id="{gw}" name="skip {escape(stage.name)}?"/>')
            join = f"join{k}"
            body.append(f'<exclusiveGateway id="{join}"/>')
            flows += [(prev, gw), (gw, sid), (gw, join), (sid, join)]
            prev = join
        else:
            flows.append((prev, sid))
            prev = sid
        if not config.must_finish and k + 1 < len(config.stages):
            gw = f"leave{k}"
            body.append(f'<exclusiveGateway id="{gw}" name="go on?"/>')
            flows += [(prev, gw), (gw, "end")]
            prev = gw
    flows.append((prev, "end"))
    body += [f'<sequenceFlow id="f{i}" sourceRef="{a}" targetRef="{b}"/>' for i, (a, b) in enumerate(flows)]
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" '
            'id="parcours" targetNamespace="https://parcours.dev/journey">\n'
            f'<process id="journey" name={quoteattr(config.name)} isExecutable="false">\n'
            + "\n".join(body) + "\n</process>\n</definitions>\n")


def export_journey(config: JourneyConfig, path: str | Path) -> Path:
    """Write ``config``'s designed journey to ``path``: ``.pnml`` (Petri net) or ``.bpmn`` (BPMN 2.0)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".pnml":
        text = pnml_text(journey_net(config))
    elif suffix == ".bpmn":
        text = bpmn_text(config)
    else:
        raise ParcoursError(f"{path}: unknown export format {suffix or '(no suffix)'!r}; name the file .pnml or .bpmn")
    path.write_text(text, "utf-8")
    return path
