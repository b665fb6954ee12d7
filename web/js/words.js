// Words the pages share with the server's reports (posecoach/outputs/words.py), so a walk reads
// the same everywhere.

/** The walking direction in words (outputs/words.py DIRECTION_WORDS). */
export const DIRECTION_WORDS = {
  backward: "Backwards",
  forward: "Forwards",
  mixed: "Both ways",
  standing: "Standing still",
  turning: "Turning",
  unknown: "Not measured",
};
