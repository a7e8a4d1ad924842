"""What the Sampling tab says about its latent plane: under the plane, and in the status bar on a pick."""
from __future__ import annotations

from engine.latent import codes as latent


def plane_text(view: latent.LatentView) -> str:
    what = f"Means of {len(view.points)} validation samples"
    if view.refine_steps:
        what += f" after {view.refine_steps} refinement steps each"
    text = f"{what}; axes: {view.plane.method}."
    if view.negative_elbo is not None:
        text += (f" Mean −ELBO {view.negative_elbo:.2f} nats per sample "
                 f"({'refined posterior' if view.refine_steps else 'encoder posterior'}, one draw each).")
    return text


def pick_text(plane: latent.Plane, x: float, y: float, waiting: bool = False) -> str:
    """The status after a click on the plane at (x, y): which latent point is (or will be) decoded."""
    if plane.pca is not None:
        where = f"the plane point ({x:.2f}, {y:.2f}) ({plane.method}, as a {plane.latent_dim}-D code)"
    elif plane.latent_dim == 1:
        where = f"the latent point z = {x:.2f}"
    else:
        where = f"the latent point z = ({x:.2f}, {y:.2f})"
    if waiting:
        return f"The model is busy: {where} is decoded when the running job is done."
    return f"Decoded {where}: the image is beside the plane (the + marks it)."
