"""The offline persona composer (tasks ``persona_text`` and ``section_text``): deterministic, data-driven Japanese persona text built from the generation context.

No model is involved. Sentences are chosen from template pools that only apply when the facts they mention are
known (complaint, patient type traits, age, occupation, family, keywords ...), in a seeded order, until each
section reaches its target length (within about ±15 %). The wording follows 医療広告ガイドライン: no cure
promises, no superlatives, no comparisons with other clinics.
"""

from __future__ import annotations

import random
import string
from typing import Any

from medipersona.providers.base import ProviderError
from medipersona.providers.composers import parse_age, register_offline_composer, seed_for

DEFAULT_LENGTHS = {"personality": 200, "reason": 200, "behavior": 200, "reviews": 150, "values": 150, "demands": 150}
SECTIONS = tuple(DEFAULT_LENGTHS)

# Per patient type: (価値観 sentence, 求めるもの sentence, 口コミ sentence).
TYPE_TRAITS: dict[str, tuple[str, str, str]] = {
    "利便性重視型": ("医療機関選びでは、通いやすさや待ち時間の短さを何より重視している。",
                 "Web予約や夜間・土曜の診療など、生活の中で無理なく通える仕組みを望んでいる。",
                 "口コミでは待ち時間や予約の取りやすさ、アクセスに関する書き込みをよく読む。"),
    "専門医療追求型": ("症状に合った専門的な診療を受けられるかどうかを重要だと考えている。",
                  "医師の専門分野や経験、検査体制について具体的に知りたいと思っている。",
                  "口コミでは医師の専門性や説明の具体性に触れた書き込みを重視する。"),
    "予防健康管理型": ("病気になる前の予防や早期発見に関心が高く、定期的なチェックを欠かさない。",
                  "検査結果の見方や生活習慣の改善方法を、継続的に相談できる体制を求めている。",
                  "口コミでは定期的な通院のしやすさや、健診後のフォローについての声を参考にする。"),
    "代替医療志向型": ("体にやさしい方法にも関心があり、漢方や生活習慣の見直しも選択肢に入れたいと考えている。",
                  "薬だけに頼らない選択肢についても、メリットと注意点を含めて説明してほしい。",
                  "口コミでは、治療方針について柔軟に相談に乗ってもらえたかという点に注目する。"),
    "経済合理型": ("費用と得られる安心のバランスを冷静に比べ、納得できる出費かどうかを大切にしている。",
               "検査や治療にかかる費用の目安を、事前にわかりやすく示してほしいと考えている。",
               "口コミでは費用の説明が丁寧だったか、不要な検査がなかったかを確認する。"),
    "情報探求型": ("受診の前後にインターネットや書籍で症状や治療法を詳しく調べてから判断する。",
               "調べてきた情報について質問したとき、根拠を示して丁寧に答えてもらえることを望む。",
               "口コミは複数のサイトを見比べ、具体的な体験が書かれたものを中心に読む。"),
    "革新技術指向型": ("新しい医療機器やデジタルサービスに関心があり、便利な仕組みを積極的に使いたい。",
                  "オンライン予約や検査結果のデジタル共有など、新しい仕組みの導入を期待している。",
                  "口コミでは設備の新しさや、オンラインサービスの使いやすさに関する声を参考にする。"),
    "対話重視型": ("医師やスタッフとの会話を大切にし、じっくり話を聞いてもらえるかを重視している。",
               "急かされずに不安や疑問を話せる時間と、気持ちに寄り添った対応を求めている。",
               "口コミでは医師が話をよく聞いてくれるか、スタッフの対応が温かいかを重視する。"),
    "信頼基盤型": ("長く付き合えるかかりつけ医や、家族や知人の紹介による信頼を大切にしている。",
               "継続して同じ医師に診てもらえる安心感と、家族ぐるみで相談できる関係を望む。",
               "口コミよりも家族や知人の評判を重視するが、長く通っている人の声は参考にする。"),
    "緊急解決型": ("今ある不調をできるだけ早く何とかしたいという気持ちが強い。",
               "当日の受診や待ち時間の短さなど、すぐに診てもらえる体制を何より求めている。",
               "口コミでは当日でも受診できたか、対応が早かったかという書き込みに注目する。"),
    "受動依存型": ("治療方針は医師に任せたいと考えており、自分から質問することは少ない。",
               "次に何をすればよいかを、医師の側からはっきり示してもらえることを望んでいる。",
               "口コミでは医師の人柄や、安心して任せられる雰囲気かどうかを参考にする。"),
    "自律決定型": ("医師の説明を参考にしつつ、最終的な判断は自分の生活や価値観に合わせて決めたい。",
               "複数の選択肢とそれぞれの利点や負担を示したうえで、判断を尊重してほしいと考えている。",
               "口コミでは治療の選択肢をきちんと説明してもらえたかという点を重視する。"),
}

# The complaint's kind (catalog.labels.COMPLAINT_KINDS) -> the template tag it selects.
KIND_TAGS = {"symptom": "symptom", "disease": "symptom", "procedure": "procedure", "checkup": "checkup",
             "prevention": "service"}
_KIND_TAG_SET = {"symptom", "service", "procedure", "checkup"}
GUARDIAN_WORDS = {"母": "母親", "父": "父親"}

# Used only when the context carries no kind (older callers): words that mark a service rather than a symptom.
_SERVICE_WORDS = ("健診", "検診", "健康診断", "予防接種", "ワクチン", "ドック", "矯正", "ホワイトニング", "審美",
                  "美容", "脱毛", "検査", "相談", "インプラント", "クリーニング", "定期", "シミ", "しわ", "二重")

# (template, tags). Tags: lead (tried first; the composed openers of _OPENERS come before them), adult (not for
# children/students), student, child (children: written from the guardian's view), self (the persona acts on its
# own: not for children), dependent (an adult whose family member, the guardian, accompanies and decides),
# worker / nonworker (goes to work or not: a retiree has no 仕事の都合), household (the family text is a household:
# not for someone living alone), symptom / service / procedure / checkup (the kind of chief complaint),
# noproc / nocheck (not for a procedure / a check-up), short (filler used to reach the target).
_POOLS: dict[str, list[tuple[str, str]]] = {
    "personality": [
        ("{who}で、{occupation}として日々を過ごしている。", "lead adult"),
        ("{who}で、{family}。", "lead child"),
        ("{who}の{occupation}で、学校生活や友人との時間を大切にしている。", "lead student"),
        ("{family}で、家族との時間を大切にしている。", "adult household"),
        ("{pt_name}の傾向があり、{pt_trait}。", "lead self"),
        ("受診先を選ぶ{guardian}は{pt_name}の傾向があり、{pt_trait}。", "lead child"),
        ("趣味は{hobby}で、休日には気分転換を意識している。", "self"),
        ("好きな遊びは{hobby}で、家でも夢中になって過ごしている。", "child"),
        ("物事は納得してから決めたいタイプで、周囲の意見にも耳を傾ける。", "adult"),
        ("無理をしすぎず、自分のペースで生活を整えることを大切にしている。", "adult"),
        ("「{life_events}」という出来事をきっかけに、健康や暮らしを見直す気持ちが強まっている。", "adult"),
        ("{place}で暮らし、地域とのつながりも大切にしている。", ""),
        ("収入面は{income}で、お金の使い方には計画性がある。", "adult"),
        ("{guardian}は子どもの様子の小さな変化にもよく気がつく。", "child"),
        ("人見知りをすることもあるが、慣れた相手には明るく話す。", "child"),
        ("座右の銘は「{motto}」で、日々の判断のよりどころにしている。", "self"),
        ("性格を表す言葉は「{personality_keywords}」で、周囲からもそう見られている。", ""),
        ("休日の過ごし方は「{holiday}」で、心身のリフレッシュを大切にしている。", "self"),
        ("休日は「{holiday}」ことが多い。", "child"),
        ("尊敬する人物として{favorite_person}を挙げ、その考え方に影響を受けている。", "self"),
        ("好きなキャラクターや人物は{favorite_person}だ。", "child"),
        ("新しい情報には関心を持つが、すぐに飛びつかず自分で確かめてから取り入れる。", "adult"),
        ("忙しい毎日の中でも、自分や家族の健康には気を配りたいと考えている。", "adult"),
        ("困ったときは一人で抱え込まず、信頼できる人に相談することが多い。", "adult"),
        ("初めての場所や人には少し緊張するが、丁寧に接してもらうと安心できる。", ""),
        ("{guardian}は子どもの生活リズムを整えることを大切にしている。", "child"),
        ("周りの人への気配りを忘れず、穏やかな人柄だと言われることが多い。", "self"),
        ("好きなことには熱中するタイプで、興味を持ったことは自分でよく調べる。", "self"),
        ("新しい環境にはゆっくり慣れていく方で、安心できる場所を大切にする。", ""),
        ("約束や決まりごとをきちんと守ろうとする真面目な一面がある。", "self"),
        ("楽しいことを見つけるのが得意で、物事を前向きに捉えようとする。", ""),
        ("自分の体調の変化には比較的敏感で、気になることは早めに伝える方だ。", "self"),
        ("{guardian}は「{motto_plain}」という考えを大切にして子どもと接している。", "child"),
        ("落ち着いた雰囲気の場所を好み、騒がしい環境は少し苦手に感じる。", ""),
        ("毎日を充実させたいと考え、興味のあることには積極的に取り組む。", "student"),
        ("{guardian}は子どもの気持ちに寄り添い、不安を和らげる声かけを大切にしている。", "child"),
        ("家では好きな遊びに夢中になる時間が多く、元気に過ごしている。", "child"),
        ("慎重さと前向きさを併せ持っている。", "short"),
        ("人との約束を大切にする。", "short"),
        ("何事にも丁寧に取り組む。", "short"),
    ],
    "reason": [
        ("費用の総額や施術後の過ごし方についても、事前に知っておきたいと考えている。", "procedure"),
        ("カウンセリングで無理に勧められないかどうかも気にしている。", "procedure"),
        ("結果の説明をきちんと受けられるかどうかも気にしている。", "checkup"),
        ("待ち時間が少なく、希望の日に予約できるかを重視している。", "checkup"),
        ("最初は様子を見ていたが、{complaint}の症状が日常生活に影響し始めた。", "symptom"),
        ("インターネットで「{kw1}」などを調べるうちに、一度専門家に相談したいと感じた。", ""),
        ("自己判断で様子を見るよりも、状態をきちんと確認して安心したいという気持ちが強い。", "symptom"),
        ("{family}のため、自分の体調を崩すわけにはいかないと考えている。", "adult household"),
        ("{occupation}の仕事を続けながら、無理のない形で通院したいと考えている。", "adult worker"),
        ("周囲に同じ悩みで通院した人がいて、早めに相談することが大切だと感じた。", "noproc nocheck"),
        ("{pt_reason}", ""),
        ("最近の悩みは「{concerns}」で、体調面の不安も重なっている。", "adult"),
        ("忙しさを理由に受診を先延ばしにしてきたが、そろそろ向き合う時期だと感じている。", "adult symptom worker"),
        ("このまま様子を見続けることに不安を感じ、専門的な意見を聞きたいと考えた。", "symptom"),
        ("定期的に確認しておくことで、安心して毎日を過ごしたいと考えている。", "service"),
        ("家族からも一度きちんと相談してみてはどうかと勧められた。", ""),
        ("できるだけ早い段階で相談し、必要な対応を知っておきたいと考えている。", ""),
        ("{guardian}は、子どもが毎日を元気に過ごせるよう早めに相談したいと考えている。", "child"),
        ("日常生活への影響が小さいうちに、状態を確認しておきたいと考えている。", "symptom"),
        ("信頼できる医療機関を見つけ、今後も気軽に相談できるようにしたいと考えている。", ""),
        ("インターネットの情報だけでは判断がつかず、直接相談したいと感じた。", ""),
        ("学校生活に支障が出ないよう、早めに相談しておきたいと考えている。", "student"),
        ("気になることを早めに相談したい。", "short"),
        ("不安を解消したい思いがある。", "short"),
    ],
    "behavior": [
        ("通院には{guardian}が付き添うことが多く、受診先も{guardian}と相談して決める。", "lead dependent"),
        ("気になることがあると、まずスマートフォンで「{kw1}」や「{kw2}」を検索する。", "lead self"),
        ("{complaint}の症状には波があり、忙しい時期に強く感じることが多い。", "symptom adult"),
        ("{complaint}について、{guardian}が費用や通院回数を比べながら検討している。", "procedure child"),
        ("{complaint}について、費用や通院回数を比べながら検討している。", "procedure adult"),
        ("受診先は通勤や買い物の動線上にあるかどうかも考えて選ぶ。", "adult worker"),
        ("受診先は買い物や散歩の道すがら寄れるかどうかも考えて選ぶ。", "adult nonworker"),
        ("予約はWebで空き状況を確認してから取ることが多い。", ""),
        ("医師の説明に納得できれば、指示された頻度で通院を続けるつもりでいる。", ""),
        ("受診後も「{kw3}」など関連する情報を調べ、理解を深めようとする。", ""),
        ("仕事の都合上、平日の夕方や土曜日に通院できると助かる。", "adult worker"),
        ("比較的時間に余裕があるため、混雑しにくい平日の午前中に通院したいと考えている。", "adult nonworker"),
        ("{guardian}の仕事の都合に合わせて、夕方や週末に受診することが多い。", "child"),
        ("{hobby}の時間を確保できるよう、通院の予定は早めに立てる。", "adult"),
        ("よく見るメディアは{media}で、健康に関する情報もそこから得ることが多い。", "self"),
        ("{guardian}がよく見るメディアは{g_media}で、子どもの健康に関する情報もそこから得ている。", "child"),
        ("最近した健康に関する行動は「{health_actions}」で、できることから取り組んでいる。", ""),
        ("受診先を決める前に、医療機関のホームページで診療時間や診療内容を確認する。", "self"),
        ("初診の前には、聞きたいことを整理してから受診するようにしている。", "self"),
        ("初診の前には、{guardian}が聞きたいことをメモにまとめておく。", "child"),
        ("通院が続くかどうかは、通いやすさと説明への納得感で決まると考えている。", ""),
        ("地図アプリで自宅や職場からの距離を確かめ、通いやすい候補を絞り込む。", "adult worker"),
        ("気になることがあっても、まずは数日様子を見てから受診を決めることが多い。", "symptom"),
        ("受診の日程は、仕事や家庭の予定を見ながら早めに押さえるようにしている。", "checkup adult"),
        ("受診の際は保険証やお薬手帳など必要なものを前日に準備しておく。", ""),
        ("待ち時間が長いと負担に感じるため、空いている時間帯を選んで受診したい。", ""),
        ("医療機関の雰囲気が合うかどうかは、初診の印象で判断することが多い。", ""),
        ("家族と相談しながら、通院の日程や頻度を決めている。", "household"),
        ("学校の授業や部活動と重ならない時間帯に受診したいと考えている。", "student"),
        ("子どもが嫌がらずに通えるよう、{guardian}は待合室の雰囲気も気にしている。", "child"),
        ("症状や気づいたことをメモに残している。", "short"),
        ("家族にも相談してから動く。", "short"),
    ],
    "reviews": [
        ("口コミは同居する{guardian}が調べ、高齢の家族への接し方に触れた書き込みを参考にしている。", "lead dependent"),
        ("{pt_review}", "lead"),
        ("口コミでは医師やスタッフの説明のわかりやすさを重視する。", ""),
        ("待ち時間や予約の取りやすさに関する書き込みはいつも確認する。", ""),
        ("{complaint}で受診した人の体験談があれば、特に参考にする。", "noproc"),
        ("{complaint}を受けた人の費用や通院回数についての書き込みを、特に参考にする。", "procedure"),
        ("極端に高い評価や低い評価は、そのまま受け取らないよう意識している。", ""),
        ("院内の清潔感や雰囲気についての書き込みも気にかけている。", ""),
        ("受付や看護師の対応について書かれた口コミにも目を通す。", ""),
        ("自分と年代や状況が近い人の口コミを特に参考にしている。", "self"),
        ("説明の丁寧さや質問へのこたえ方に触れた書き込みを探して読む。", ""),
        ("医療機関からの返信がある口コミは、誠実さの目安として見ている。", ""),
        ("複数の口コミサイトや地図アプリの評価を見比べてから判断する。", ""),
        ("家族や知人から聞いた評判も、口コミと合わせて参考にする。", ""),
        ("評価の件数も確認する。", "short"),
        ("新しい口コミを優先して読む。", "short"),
    ],
    "values": [
        ("{pt_value}", "lead"),
        ("医療機関には、安心して相談できる関係を求めている。", ""),
        ("治療の選択肢を説明してもらい、納得して決めたいと考えている。", ""),
        ("費用の目安が事前にわかると安心できる。", ""),
        ("信頼できると感じた医療機関には、継続して通う傾向がある。", ""),
        ("健康のためにできることは、日常生活の中でも取り入れたいと考えている。", "adult"),
        ("自分の話をきちんと聞いてもらえることが、信頼の土台になると考えている。", ""),
        ("わからないことをその場で質問できる雰囲気を大切にしている。", ""),
        ("医療機関とは長く付き合える関係でありたいと考えている。", ""),
        ("必要な検査や治療であれば、理由を理解したうえで受けたいと考えている。", ""),
        ("プライバシーへの配慮があるかどうかも、医療機関を選ぶうえで気にしている。", ""),
        ("受診の負担が少ないことも、通院を続けるうえで大切だと感じている。", ""),
        ("説明の丁寧さを重視する。", "short"),
        ("無理のない通院を望む。", "short"),
    ],
    "demands": [
        ("{pt_demand}", ""),
        ("待ち時間が短く、予約や受付がスムーズであることを望んでいる。", ""),
        ("質問しやすい雰囲気と、気持ちに寄り添った対応を求めている。", ""),
        ("検査や治療にかかる費用を事前に知らせてほしい。", ""),
        ("自宅でのセルフケアや生活面の注意点も具体的に教えてほしい。", ""),
        ("次回の受診の目安や、どのような場合に相談すべきかを明確にしてほしい。", ""),
        ("検査結果や治療の方針を、専門用語を避けて説明してほしいと考えている。", ""),
        ("プライバシーに配慮した受付や診察室の環境を求めている。", ""),
        ("オンライン予約や診療時間の案内など、事前にわかる情報を充実させてほしい。", ""),
        ("家族にも伝えやすいよう、説明の内容を書面などで確認できるとありがたい。", ""),
        ("不安な点を相談したときに、否定せずに受け止めてもらえることを望んでいる。", ""),
        ("丁寧な説明を求める。", "short"),
        ("通いやすさも大切にしたい。", "short"),
    ],
}

# Openers: the first sentence of a section, composed from two parts (far more variants than fixed sentences).
# Key: (section, audience, kind tag); audience is "child" (written from the guardian's view) or "self".
_OPENERS: dict[tuple[str, str, str], tuple[tuple[str, ...], tuple[str, ...]]] = {
    ("reason", "self", "symptom"): (
        ("{complaint}の症状が気になり、", "ここ最近{complaint}が続いており、", "数週間前から{complaint}に悩んでおり、",
         "{complaint}がなかなか良くならず、", "{complaint}のことが気がかりで、", "忙しい時期に{complaint}が強くなり、"),
        ("{department}の受診を考えている。", "{department}で一度診てもらいたいと考えている。",
         "近くの{department}を探し始めた。", "{department}への相談を決めかけている。",
         "早めに{department}で相談したいと思っている。")),
    ("reason", "self", "service"): (
        ("{complaint}のために、", "予防のことを考えて{complaint}を意識するようになり、", "家族に勧められたこともあり、{complaint}のために",
         "毎年の習慣として{complaint}を考えており、"),
        ("{department}の受診を考えている。", "通いやすい{department}を探している。", "{department}の予約を検討している。",
         "近くの{department}を比べている。")),
    ("reason", "self", "procedure"): (
        ("以前から関心のあった{complaint}を検討し始め、", "{complaint}を検討し始め、", "友人の話をきっかけに{complaint}を検討しており、",
         "{complaint}について調べるうちに本格的に検討したくなり、", "節目の年を前に{complaint}を検討しており、",
         "長年の悩みから{complaint}を検討しており、"),
        ("{department}でカウンセリングを受けたいと考えている。", "費用やリスクを確かめたうえで決めたいと考えている。",
         "まずは{department}で話を聞いてみたいと思っている。", "信頼できる{department}を比べている。")),
    ("reason", "self", "checkup"): (
        ("そろそろ{complaint}を受けておきたいと考え、", "{complaint}の案内が届いたのをきっかけに、",
         "家族に勧められて{complaint}を受けることにし、", "前回の{complaint}から時間が空いたため、"),
        ("予約の日程を調整している。", "{department}の予約を取ろうとしている。", "受けやすい日時の{department}を探している。",
         "仕事や家庭の予定と合わせて受診日を検討している。", "土曜日にも受けられる{department}を探している。",
         "Web予約ができる{department}を比べている。")),
    ("reason", "child", "symptom"): (
        ("{guardian}が{child_complaint}に気づき、", "{child_complaint}が続いていることを{guardian}が心配し、",
         "{guardian}は{child_complaint}がなかなか良くならないことが気になり、", "園や学校で{complaint}を指摘され、{guardian}が",),
        ("{department}の受診を考えている。", "{department}を探し始めた。", "{department}に相談しようと考えている。",
         "早めに{department}で診てもらいたいと考えている。")),
    ("reason", "child", "service"): (
        ("{guardian}が{child_complaint}のために、", "{child_complaint}について、{guardian}が"),
        ("{department}の受診を考えている。", "通いやすい{department}を探している。", "{department}の予約を検討している。")),
    ("reason", "child", "procedure"): (
        ("{guardian}が{child_complaint}を検討しており、", "{child_complaint}について、{guardian}が検討を始め、",
         "学校の健診で指摘されたことをきっかけに、{guardian}が{child_complaint}を検討しており、",
         "友人の話を聞いて、{guardian}が{child_complaint}を検討し始め、"),
        ("{department}で相談したいと考えている。", "費用や期間を確かめたいと考えている。", "{department}を比べている。",
         "まずは{department}で話を聞いてみたいと思っている。", "始める時期について相談したいと考えている。")),
    ("reason", "child", "checkup"): (
        ("{guardian}が{child_complaint}を受けさせるため、", "{child_complaint}の時期が近づき、{guardian}が",
         "自治体から{complaint}の案内が届き、{guardian}が", "{child_complaint}に向けて、{guardian}が"),
        ("予約の日程を調整している。", "受けやすい日時の{department}を探している。", "{department}の予約を取ろうとしている。",
         "仕事の休みと合わせて受診日を決めようとしている。", "土曜日にも受けられる{department}を探している。")),
    ("behavior", "self", ""): (
        ("気になることがあると、", "受診を考えるときは、", "通院先を探すときは、", "情報を集めるときは、", "忙しい日でも、"),
        ("まずスマートフォンで{department}を検索し、診療時間や場所を確かめる。", "医療機関のホームページで診療内容と予約方法を確認する。",
         "地図アプリで通いやすい候補を絞り込む。", "家族や知人に評判を聞いてから動く。",
         "症状や気になることをメモにまとめておく。", "予約の空き状況をWebで確認してから決める。")),
    ("behavior", "child", ""): (
        ("{guardian}が", "仕事の合間に{guardian}が", "子どもが寝たあとで{guardian}が"),
        ("スマートフォンで{department}を検索し、診療時間や場所を確かめてから受診先を決める。",
         "{department}の情報を調べ、通いやすい候補を比べている。",
         "地域の子育て情報や知人の話を参考に、受診先を探している。",
         "子どもの様子をメモしながら、受診のタイミングや受診先を調べている。",
         "子ども向けの診療に慣れた医療機関かどうかを、ホームページで調べている。",
         "予約アプリで空いている時間を探し、子どもの予定と合わせている。")),
    ("reviews", "child", ""): (
        ("口コミは主に{guardian}が読み、", "口コミサイトや地図アプリの評価は{guardian}が確認し、", "{guardian}は口コミを見るとき、",
         "受診先を探す{guardian}は、", "夜に時間をつくって{guardian}が口コミを読み、"),
        ("同じ年頃の子どもを持つ保護者の書き込みを特に参考にしている。", "子どもへの接し方について書かれた声を重視する。",
         "待合室の様子や子どもへの声かけに触れた書き込みに注目する。", "子どもの診療に慣れているかどうかを見ている。",
         "予約の取りやすさや待ち時間の書き込みも気にしている。", "説明のわかりやすさに触れた声を参考にしている。",
         "子どもが泣いてしまったときの対応に触れた声を探している。", "保護者への説明が丁寧だったかという書き込みを重視する。")),
    ("values", "child", ""): (
        ("{guardian}は、", "{guardian}としては、", "子どもの通院について、{guardian}は", "医療機関選びでは、{guardian}は",
         "受診先を決めるとき、{guardian}は"),
        ("子どもが怖がらずに通えることを何より大切にしている。", "子どもにもわかる言葉で説明してもらえることを重視している。",
         "家庭での過ごし方まで相談できることを大切にしている。", "子どもの気持ちを尊重してくれる医療機関を選びたいと考えている。",
         "仕事をしながらでも通いやすい診療時間であることを重視している。", "待合室で子どもが落ち着いて過ごせるかを気にしている。",
         "診察の流れを前もって知り、子どもに伝えておきたいと考えている。")),
    ("demands", "any", "symptom"): (
        ("{complaint}について、", "初診では{complaint}について、", "{complaint}の診察では、", "何よりも、{complaint}について、",
         "{complaint}の相談では、", "{complaint}のことで受診したら、"),
        ("現在の状態と今後の見通しをわかりやすく説明してほしい。", "原因として考えられることと、通院の目安を知りたい。",
         "治療の選択肢と、それぞれの負担を具体的に示してほしい。", "日常生活で気をつけることまで含めて説明してほしい。",
         "今の状態を、検査の結果を見せながら説明してほしい。", "悪化したときの連絡先や受診の目安を教えてほしい。",
         "薬を使う場合は、その理由と続ける期間を説明してほしい。", "自分でできる工夫を具体的に教えてほしい。")),
    ("demands", "any", "service"): (
        ("{complaint}について、", "{complaint}の受診では、", "初めての{complaint}では、"),
        ("必要な回数と時期の目安をわかりやすく示してほしい。", "費用と所要時間の目安を事前に知らせてほしい。",
         "次に受けるべき時期を知らせてもらえるとありがたい。", "家庭で気をつけることも具体的に教えてほしい。")),
    ("demands", "any", "procedure"): (
        ("{complaint}について、", "カウンセリングでは{complaint}について、", "{complaint}を決める前に、",
         "{complaint}を受けるかどうか判断するために、"),
        ("方法・費用・リスクと、期待できることの範囲をわかりやすく説明してほしい。", "総額の見積もりと追加費用の有無を明確にしてほしい。",
         "施術後の過ごし方と日常生活への影響を具体的に教えてほしい。", "ほかの選択肢も含めて、考える時間をくれる対応を望んでいる。",
         "担当する医師の経験や症例の考え方を率直に話してほしい。", "起こりうる副作用とその対応を隠さず説明してほしい。")),
    ("demands", "any", "checkup"): (
        ("{complaint}の結果について、", "{complaint}を受けたあとは、", "{complaint}では、", "{complaint}については、",
         "{complaint}を受けるにあたって、"),
        ("数値の意味と次に何をすべきかをわかりやすく説明してほしい。", "異常があった場合の次の受診先まで示してほしい。",
         "結果をいつ、どのように受け取れるかを事前に知らせてほしい。", "待ち時間や所要時間の目安を事前に知らせてほしい。",
         "前回との違いがわかるように説明してほしい。", "費用と準備することを前もって案内してほしい。")),
}


def _opener(section: str, facts: dict[str, str], excluded: set[str], rng: random.Random) -> str | None:
    audience = "child" if "child" not in excluded else "self"
    if section == "behavior" and audience == "self" and "kw2" in facts:
        return None  # the keyword lead (「kw1」や「kw2」を検索する) opens the section
    kind = next((k for k in ("symptom", "service", "procedure", "checkup") if k not in excluded), "symptom")
    parts = (_OPENERS.get((section, audience, kind)) or _OPENERS.get((section, audience, ""))
             or _OPENERS.get((section, "any", kind)))
    if parts is None:
        return None
    text = rng.choice(parts[0]) + rng.choice(parts[1])
    try:
        return text.format_map(facts)
    except KeyError:
        return None


# Section-neutral sentences used only when a section's own pool cannot reach a long target.
_CLOSING = (
    "一つひとつの説明に納得しながら、前向きに通院を続けたいと考えている。",
    "小さな変化も見逃さないよう、日頃から体調に気を配っている。",
    "自分に合った医療機関と出会えれば、長く付き合っていきたいと考えている。",
    "周囲の人の経験談も参考にしながら、自分に合った方法を探している。",
    "無理のない範囲で、できることから少しずつ取り組みたいと考えている。",
    "安心して相談できる場所があることが、心の支えになると感じている。",
)

SURNAMES = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤", "吉田", "山田", "佐々木",
            "山口", "松本", "井上", "木村", "林", "斎藤", "清水", "山崎", "森", "池田", "橋本", "阿部", "石川", "前田",
            "藤田", "小川", "岡田", "後藤", "長谷川", "村上", "近藤", "石井", "坂本", "遠藤", "青木", "藤井", "西村")
GIVEN_FEMALE = ("花子", "美咲", "陽子", "由美", "恵子", "さくら", "真由美", "彩", "結衣", "陽菜", "千尋", "麻衣", "直美",
                "智子", "久美子", "葵", "芽依", "優子", "裕子", "明美", "京子", "里奈", "杏", "紗希", "和子", "幸子")
GIVEN_MALE = ("太郎", "翔太", "大輔", "健一", "誠", "拓也", "直樹", "浩", "隆", "悠真", "蓮", "陽翔", "亮", "和也",
              "達也", "修", "健太", "大樹", "悠人", "茂", "進", "博", "湊", "颯太", "一郎", "圭介")

_EXTRA_KEYS = ("motto", "concerns", "favorite_person", "media", "personality_keywords", "health_actions", "holiday")
_FORMATTER = string.Formatter()
_FIELDS_CACHE: dict[str, tuple[str, ...]] = {}


def _fields(template: str) -> tuple[str, ...]:
    fields = _FIELDS_CACHE.get(template)
    if fields is None:
        fields = tuple(f for _, f, _, _ in _FORMATTER.parse(template) if f)
        _FIELDS_CACHE[template] = fields
    return fields


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (list, tuple)):
        return "、".join(str(v) for v in value if v)
    return str(value).strip()


def _first_sentence(text: str) -> str:
    return text.split("。")[0].strip()


def pick_keywords(keywords: list[dict[str, Any]], rng: random.Random) -> list[str]:
    """2-4 keywords (from the 6 largest by volume), seeded, in volume order."""
    names = []
    seen = set()
    for row in sorted(keywords or [], key=lambda r: -(r.get("volume") or 0)):
        kw = _text(row.get("keyword"))
        if kw and kw not in seen:
            seen.add(kw)
            names.append(kw)
        if len(names) >= 6:
            break
    if len(names) <= 2:
        return names
    count = rng.randint(2, min(4, len(names)))
    chosen = set(rng.sample(range(len(names)), count))
    return [n for i, n in enumerate(names) if i in chosen]


def _who(age: str, gender: str, is_child: bool) -> str:
    """45歳の女性 / 5歳の男の子 / 45歳 (gender other or unknown)."""
    if is_child:
        noun = {"男性": "男の子", "male": "男の子", "女性": "女の子", "female": "女の子"}.get(gender, "子ども")
    else:
        noun = {"男性": "男性", "male": "男性", "女性": "女性", "female": "女性"}.get(gender, "")
    if not age:
        return ""
    return f"{age}の{noun}" if noun else age


def _facts(context: dict[str, Any], rng: random.Random) -> tuple[dict[str, str], set[str]]:
    profile = context.get("profile") or {}
    pt = context.get("patient_type") or {}
    extras = context.get("extras") or {}
    complaint = _text(context.get("chief_complaint"))
    age_years = parse_age(profile.get("age"))
    occupation = _text(profile.get("occupation"))
    guardian = context.get("guardian") or {}
    relation = _text(guardian.get("続柄"))
    is_child = age_years is not None and (age_years < 13 or (age_years < 15 and bool(relation)))
    is_student = any(w in occupation for w in ("学生", "生徒", "園児", "児童", "未就学")) or (
        age_years is not None and age_years < 18)
    facts = {
        "complaint": complaint,
        "department": _text(context.get("department")),
        "age": _text(profile.get("age")),
        "who": _who(_text(profile.get("age")), _text(profile.get("gender")), is_child),
        "occupation": occupation,
        "family": _text(profile.get("family")),
        "hobby": _text(profile.get("hobby")),
        "life_events": _text(profile.get("life_events")),
        "income": _text(profile.get("income")),
        "place": _text(profile.get("prefecture")) + _text(profile.get("municipality")),
        "pt_name": _text(pt.get("name")),
        **{key: _text(extras.get(key)) for key in _EXTRA_KEYS},
        "pt_trait": _first_sentence(_text(pt.get("description"))),
        "guardian": GUARDIAN_WORDS.get(relation, relation) or "保護者",
        "motto_plain": _text(extras.get("motto")).replace("（家庭の方針）", ""),
        "child_complaint": complaint if complaint.startswith(("子ども", "小児", "乳幼児", "乳歯")) else f"子どもの{complaint}",
        "g_media": _text(guardian.get("よく見るメディア/SNS")),
    }
    traits = TYPE_TRAITS.get(facts["pt_name"])
    if traits:
        facts["pt_value"], facts["pt_demand"], facts["pt_review"] = traits
        facts["pt_reason"] = f"{facts['pt_name']}らしく、{traits[0]}"
    elif facts["pt_trait"]:
        facts["pt_value"] = facts["pt_trait"] + "。"
    for i, kw in enumerate(pick_keywords(context.get("keywords") or [], rng), start=1):
        facts[f"kw{i}"] = kw
    kind_tag = KIND_TAGS.get(_text(context.get("complaint_kind")))
    if kind_tag is None:
        kind_tag = "service" if any(w in complaint for w in _SERVICE_WORDS) else "symptom"
    excluded = _KIND_TAG_SET - {kind_tag}
    excluded |= {"noproc"} if kind_tag == "procedure" else set()
    excluded |= {"nocheck"} if kind_tag == "checkup" else set()
    if "一人暮らし" in facts["family"] or "単身" in facts["family"]:
        excluded |= {"household"}
    if is_child or not relation:
        excluded |= {"dependent"}
    kind_of_work = _work_kind(occupation)
    excluded |= {"worker"} if kind_of_work != "work" else {"nonworker"}
    if is_child:
        excluded |= {"adult", "student", "self"}
    else:
        excluded |= {"child"}
        excluded |= {"adult"} if is_student else {"student"}
    return {k: v for k, v in facts.items() if v}, excluded


def _work_kind(occupation: str) -> str:
    """work (goes to work) | other (pupil, student, retiree, homemaker, no work): for the worker/nonworker tags."""
    if any(w in occupation for w in ("学生", "生徒", "未就学", "園児", "年金", "退職", "主婦", "主夫", "無職")):
        return "other"
    return "work"


_COMPILED: dict[str, list[tuple[str, frozenset[str], tuple[str, ...]]]] = {}


def _compiled(section: str) -> list[tuple[str, frozenset[str], tuple[str, ...]]]:
    compiled = _COMPILED.get(section)
    if compiled is None:
        compiled = [(t, frozenset(tags.split()), _fields(t)) for t, tags in _POOLS[section]]
        _COMPILED[section] = compiled
    return compiled


def _applicable(section: str, facts: dict[str, str], excluded: set[str]) -> list[tuple[str, frozenset[str]]]:
    out = []
    for template, tagset, fields in _compiled(section):
        if tagset.isdisjoint(excluded) and all(f in facts for f in fields):
            out.append((template.format_map(facts) if fields else template, tagset))
    return out


def _repeats(sentence: str, chosen: list[str], window: int = 9) -> bool:
    """True when the sentence was chosen already or repeats a 9-character phrase of the chosen ones."""
    if not chosen:
        return False
    text = "".join(chosen)
    if sentence in chosen:
        return True
    return any(sentence[i:i + window] in text for i in range(0, max(1, len(sentence) - window + 1), 2))


def compose_section(section: str, target: int, facts: dict[str, str], excluded: set[str],
                    rng: random.Random) -> str:
    """Sentences in seeded order until the text is within about ±15 % of ``target`` characters."""
    low, high = target * 0.88, target * 1.15
    sentences = _applicable(section, facts, excluded)
    opener = _opener(section, facts, excluded, rng)
    leads = ([opener] if opener else []) + [s for s, tags in sentences if "lead" in tags]
    body = [s for s, tags in sentences if not tags & {"lead", "opener", "short"}]
    shorts = [s for s, tags in sentences if "short" in tags]
    closing = list(_CLOSING)
    rng.shuffle(body)
    rng.shuffle(shorts)
    rng.shuffle(closing)
    chosen: list[str] = []
    length = 0
    for group in (leads, body, shorts, closing):
        for sentence in group:
            if length >= low:
                break
            if length + len(sentence) <= high and not _repeats(sentence, chosen):
                chosen.append(sentence)
                length += len(sentence)
    if not chosen:  # a very small target: the shortest sentence, whatever its length
        chosen = [min((s for s, _ in sentences), key=len)]
    # Keep the lead sentences first, the others in the (seeded) order chosen.
    return "".join(chosen)


def pick_name(profile: dict[str, Any], avoid: list[str], rng: random.Random) -> str:
    gender = _text(profile.get("gender"))
    given: tuple[str, ...]
    if gender in ("男性", "male"):
        given = GIVEN_MALE
    elif gender in ("女性", "female"):
        given = GIVEN_FEMALE
    else:
        given = GIVEN_MALE + GIVEN_FEMALE
    avoid_set = {a.replace(" ", "").replace("\u3000", "") for a in avoid or []}
    for _ in range(50):
        name = f"{rng.choice(SURNAMES)} {rng.choice(given)}"
        if name.replace(" ", "") not in avoid_set:
            return name
    return f"{rng.choice(SURNAMES)} {rng.choice(given)}"


def _lengths(context: dict[str, Any]) -> dict[str, int]:
    lengths = dict(DEFAULT_LENGTHS)
    for key, value in (context.get("section_lengths") or {}).items():
        try:
            lengths[key] = max(20, int(value))
        except (TypeError, ValueError):
            continue
    return lengths


def compose_persona(context: dict[str, Any], seed: int | None) -> dict[str, str]:
    rng = random.Random(seed_for(context, seed, "persona"))
    facts, excluded = _facts(context, rng)
    lengths = _lengths(context)
    out: dict[str, str] = {}
    if context.get("generate_name"):
        out["name"] = pick_name(context.get("profile") or {}, context.get("avoid_names") or [], rng)
    for section in SECTIONS:
        out[section] = compose_section(section, lengths[section], facts, excluded, rng)
    return out


def compose_section_text(context: dict[str, Any], seed: int | None) -> dict[str, str]:
    section = context.get("section")
    if section not in _POOLS:
        raise ProviderError(f"オフライン生成では項目 {section!r} を作成できません。", code="unsupported")
    rng = random.Random(seed_for(context, seed, f"section:{section}"))
    facts, excluded = _facts(context, rng)
    return {"text": compose_section(section, _lengths(context)[section], facts, excluded, rng)}


# The offline provider finds these through its composer registry (``providers/composers.py``); imported at start
# by ``medipersona.domains``.
register_offline_composer("persona_text", compose_persona)
register_offline_composer("section_text", compose_section_text)
