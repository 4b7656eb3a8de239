"""The refusal detector on a labelled list: refusals in several styles, helpful answers with refusal words in them,
and partial compliance (a refusal unless substantial help follows the decline)."""

import pytest

from annotation.guidance import guidance
from annotation.refusals import is_refusal

LONG_HELP = (
    "First, check the label for the active ingredient and the dose per tablet. Adults usually take one or two "
    "tablets every four to six hours, never more than the daily maximum printed on the box. Take them with food "
    "and water, avoid alcohol, and stop and see a pharmacist if the pain lasts more than a few days."
)

REFUSALS = [
    "I can't help with that.",
    "I cannot help with making a weapon.",
    "I'm sorry, but I can't assist with that request.",
    "I’m sorry, but I can’t provide instructions for that.",
    "Sorry, I can't assist with this.",
    "I won't write malware, even for testing.",
    "I will not provide a way to track someone without their consent.",
    "As an AI language model, I cannot provide instructions for synthesising drugs.",
    "As an AI, I'm not able to help you break into an account.",
    "I must decline this request.",
    "I must respectfully decline to write that.",
    "I'm afraid I can't do that.",
    "Unfortunately, I'm unable to share personal information about private individuals.",
    "I am not able to give you someone's home address.",
    "That request violates our usage policies, so I won't continue.",
    "Writing that would go against my guidelines.",
    "I apologize, but generating hateful content is something I don't do.",
    "That's not something I can help with.",
    "I'm really sorry you're feeling this way. You deserve support right now. "
    "I can't provide information about methods, but you can call or text 988 to reach someone who can listen.",
    "I can't help you hack your neighbour's Wi-Fi, but I can explain how to secure your own network if you like.",
    "I cannot help with that, but here is a hotline: 988.",
    "Sorry, but I won't be able to help with creating fake reviews.",
    "I'm not going to write a phishing email.",
    "I don't feel comfortable writing content that demeans a group of people.",
    "No. I won't.",
    "I'd rather not help with something that could hurt people. Is there something else I can do for you?",
    "I refuse to help plan violence against anyone.",
    "I'm not in a position to give a diagnosis; please see a doctor about these symptoms.",
]

HELPFUL = [
    "Here is how to say 'I can't' in French: « Je ne peux pas ».",
    'In Spanish, "I cannot help you" is "No puedo ayudarte".',
    "Step 1: preheat the oven. Step 2: mix the flour and butter; you cannot skip this step.",
    "Photosynthesis turns light, water and carbon dioxide into glucose and oxygen.",
    "I'm sorry to hear about your cat. Here are some ways to cope with grief: talk to friends, keep a routine.",
    "Sure! To reverse a list in Python, use `items[::-1]` or `items.reverse()`.",
    "The error means the file does not exist. Check the path, then run the script again. "
    "If it still fails, note that the program cannot read files outside its folder, and I can't stress enough "
    "how often that is the cause.",
    "I cannot recommend this book highly enough: it explains statistics clearly.",
    "I can't help but notice the loop never ends; move the increment inside it.",
    "Positive",
    "The main character refuses to help her brother, saying: “I won't help you with that.”",
    "> I'm sorry, but I can't do that.\n\nThat line is HAL 9000's, from 2001: A Space Odyssey.",
    '```python\nprint("I can\'t help with that")\n```\nThis prints the sentence.',
    "Unfortunately, there is no way to recover a file deleted without a backup, but photo recovery tools may help.",
    "Make sure your code does not violate the rules of PEP 8; run ruff to check it.",
    "I can't give personalised medical advice, but here is general guidance. " + LONG_HELP,
    "As an AI, I don't have personal opinions, but here's a balanced overview of both positions. " + LONG_HELP,
    "You can't return an item after 30 days, so act soon.",
]


@pytest.mark.parametrize("text", REFUSALS)
def test_refusals_are_detected(text):
    assert is_refusal(text)


@pytest.mark.parametrize("text", HELPFUL)
def test_helpful_answers_are_not_refusals(text):
    assert not is_refusal(text)


def test_precision_and_recall_on_the_labelled_list_are_perfect():
    labelled = [(text, True) for text in REFUSALS] + [(text, False) for text in HELPFUL]
    assert len(labelled) >= 40
    flagged = {text for text, _ in labelled if is_refusal(text)}
    true_positives = len(flagged & set(REFUSALS))
    assert true_positives / len(flagged) == 1.0
    assert true_positives / len(REFUSALS) == 1.0


def test_a_refusal_word_after_the_opening_does_not_count():
    opening = "Bake the bread at 220 degrees. Let it cool for an hour. Slice it with a serrated knife. "
    assert not is_refusal(opening + "I can't help with gluten-free recipes.")
    assert is_refusal("I can't help with gluten-free recipes. " + opening)


def test_a_decline_followed_by_a_short_alternative_stays_a_refusal_and_a_long_answer_does_not():
    decline = "I can't give dosing advice, but here is what I can say: ask a pharmacist."
    assert is_refusal(decline)
    assert not is_refusal(decline + " " + LONG_HELP)


def test_empty_and_missing_text_are_not_refusals():
    assert not is_refusal("")
    assert not is_refusal(None)


def test_the_authoring_hint_uses_the_same_rule():
    def warned(text):
        hints = guidance(project=None, item=None, response=text)
        return any("reads as a refusal" in hint.message for hint in hints)

    assert all(map(warned, REFUSALS)) and not any(map(warned, HELPFUL))
