"""Coaching: smoothing, form metrics, gait, and the rules that turn them into cues."""
