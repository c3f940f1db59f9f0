"""Words the database stores as codes, with the English message ids the catalogs translate.
``N_`` only marks a string for extraction; the page translates it when it shows it."""


def N_(message: str) -> str:
    return message


FEATURES = {
    "step-free": N_("step-free access"),
    "hearing-loop": N_("hearing loop"),
    "projector": N_("projector"),
    "screen": N_("screen"),
    "sound-system": N_("sound system"),
    "piano": N_("piano"),
    "kitchen": N_("kitchen"),
    "sink": N_("sink"),
    "whiteboard": N_("whiteboard"),
    "computers": N_("computers"),
    "wifi": N_("Wi-Fi"),
    "power-outlets": N_("power outlets"),
    "quiet": N_("quiet room"),
    "mirrors": N_("mirrors"),
    "stage": N_("stage"),
    "changing-rooms": N_("changing rooms"),
    "showers": N_("showers"),
    "floodlights": N_("floodlights"),
    "scoreboard": N_("scoreboard"),
    "easels": N_("easels"),
    "kiln": N_("kiln"),
    "loom": N_("loom"),
    "vr-headsets": N_("VR headsets"),
}

VENUE_KINDS = {
    "school": N_("school"),
    "library": N_("library"),
    "study_room": N_("study room"),
    "sports_venue": N_("sports venue"),
    "community_centre": N_("community centre"),
    "community_school": N_("community school"),
    "learning_point": N_("learning point"),
    "community_college": N_("community college"),
}

SPACE_KINDS = {
    "classroom": N_("classroom"),
    "gym": N_("gym"),
    "court": N_("court"),
    "hall": N_("hall"),
    "reading_room": N_("reading room"),
    "computer_lab": N_("computer room"),
    "kitchen": N_("kitchen"),
    "workshop": N_("workshop"),
    "field": N_("sports field"),
    "meeting_room": N_("meeting room"),
    "studio": N_("studio"),
    "seminar_room": N_("seminar room"),
    "music_room": N_("music room"),
    "art_room": N_("art room"),
    "dance_studio": N_("dance studio"),
    "activity_room": N_("activity room"),
    "multipurpose_room": N_("multipurpose room"),
}
